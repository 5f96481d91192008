package dev.kvx.transceiver.internal.engine;

import static dev.kvx.transceiver.internal.engine.Scenario.BLOCKS;
import static dev.kvx.transceiver.internal.engine.Scenario.ID;
import static dev.kvx.transceiver.internal.engine.Scenario.Situation.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.TransferMode;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferOutcome.Status;
import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.engine.EngineHarness.Req;
import dev.kvx.transceiver.internal.engine.EngineHarness.Side;
import dev.kvx.transceiver.internal.engine.Scenario.Situation;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The state machine, deterministically: every phase of both roles in both modes × the two ways this side
 * ends a request itself — its deadline passes, or it is cancelled. Checks the one outcome, what the peer
 * is told, what is quarantined, and that a quarantine ends only on proof, never on a timer.
 */
class StateMachineSelfEndTest {
    /** How this side ends the request, the status it gets and the Abort reason the peer hears. */
    enum SelfEnd {
        DEADLINE(Status.TIMED_OUT, 1),
        CANCEL(Status.CANCELLED, 2);

        final Status status;
        final int reason;

        SelfEnd(Status status, int reason) {
            this.status = status;
            this.reason = reason;
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of(TransferMode.values()).flatMap(m -> Stream.of(Situation.values()).flatMap(s -> Stream.of(SelfEnd.values())
                .map(e -> Arguments.of(m, s, e))));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void aRequestThisSideEndsGetsOneOutcomeAndThePeerHearsAsTheProtocolSays(TransferMode mode, Situation sit, SelfEnd how) {
        try (Scenario sc = new Scenario(mode, sit)) {
            Side me = sc.subject;
            Side peer = sc.peer;
            int mark = me.port.mark();
            if (how == SelfEnd.DEADLINE) {
                sc.h.advance(Scenario.SUBJECT_DEADLINE.plusMillis(1));
            } else {
                sc.req.cancel();
                sc.h.pump();
            }
            TransferOutcome o = sc.req.outcome();
            assertEquals(how.status, o.status(), o.detail());
            assertEquals(sit.endPhase(), o.phase());

            // What the peer was told.
            List<WireMessage.Abort> aborts = me.port.sentSince(mark, WireMessage.Abort.class, ID);
            List<WireMessage.Released> released = me.port.sentSince(mark, WireMessage.Released.class, ID);
            if (sit.announcer) {
                assertEquals(List.of(new WireMessage.Abort(ID, sc.req.epoch(), how.reason, false)), aborts);
            } else if (sit.boundMover() || sit == MOVER_SUBMITTED) {
                // a queued mover whose announcement already waited here answers it (F15's rule, before the ask is taken)
                assertEquals(List.of(new WireMessage.Abort(ID, sc.counterpart.epoch(), how.reason, true)), aborts);
            } else {
                assertEquals(List.of(), aborts, "a mover waiting for request info knows no attempt to abort");
            }
            boolean releasesNow = sit == MOVER_WAITING_FOR_BUFFER || sit == MOVER_SUBMITTED; // nothing of ours was posted
            assertEquals(releasesNow ? List.of(new WireMessage.Released(ID, sc.counterpart.epoch())) : List.of(), released);

            // What is held: the announcer's announced blocks and the mover's in-flight transfer stay out of the pool.
            boolean holds = sit == ANNOUNCER_WAITING_FOR_DATA || sit == MOVER_DATA_IN_FLIGHT;
            assertEquals(holds ? BLOCKS : 0, o.quarantinedBlocks());
            assertEquals(holds ? BLOCKS : 0, me.pool.quarantinedBlocks());
            int blockerSlots = sit == ANNOUNCER_WAITING_FOR_BUFFER || sit == MOVER_WAITING_FOR_BUFFER ? 1 : 0;
            assertEquals(blockerSlots, me.engine.sendSlotsInUse() + me.engine.recvSlotsInUse(), "the request's slot came back");

            checkCounterpart(sc);
            if (holds) {
                quarantineEndsOnlyOnProof(sc);
            }
            sc.finishAndCheck();
        }
    }

    private static void checkCounterpart(Scenario sc) {
        Req c = sc.counterpart;
        switch (sc.sit) {
            case ANNOUNCER_SUBMITTED, ANNOUNCER_WAITING_FOR_BUFFER -> {
                // The announcer gave up before announcing: its Abort reaches the mover that waits for the request info.
                assertEquals(Status.CANCELLED, c.outcome().status());
                assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, c.outcome().phase());
            }
            case ANNOUNCER_WAITING_FOR_DATA -> {
                assertEquals(Status.CANCELLED, c.outcome().status());
                assertEquals(TransferPhase.DATA_IN_FLIGHT, c.outcome().phase());
                assertEquals(BLOCKS, sc.peer.pool.quarantinedBlocks(), "the mover keeps its own blocks while its write is in flight");
            }
            case MOVER_SUBMITTED -> {
                // The announcement was already here (pending): the announcer hears at once, and nothing stays held.
                assertEquals(Status.CANCELLED, c.outcome().status(), c.toString());
                assertEquals(TransferPhase.WAITING_FOR_DATA, c.outcome().phase());
                assertEquals(0, sc.peer.pool.quarantinedBlocks());
            }
            case MOVER_WAITING_FOR_REQUEST_INFO -> {
                assertFalse(c.done(), "the announcer has not announced yet: " + c);
                sc.unblock(); // now it announces, and hears that this side gave up (F15)
                assertEquals(Status.CANCELLED, c.outcome().status());
                assertTrue(c.outcome().detail().contains("by peer"), c.outcome().detail());
                assertEquals(0, sc.peer.pool.quarantinedBlocks(), "the refusal came with Released");
            }
            case MOVER_WAITING_FOR_BUFFER -> {
                assertEquals(Status.CANCELLED, c.outcome().status());
                assertEquals(TransferPhase.WAITING_FOR_DATA, c.outcome().phase());
                assertEquals(0, sc.peer.pool.quarantinedBlocks(), "Released came with the Abort");
            }
            case MOVER_DATA_IN_FLIGHT -> {
                assertEquals(Status.CANCELLED, c.outcome().status());
                assertEquals(BLOCKS, c.outcome().quarantinedBlocks());
                assertEquals(BLOCKS, sc.peer.pool.quarantinedBlocks(), "the announcer holds its blocks while the write is in flight");
            }
        }
    }

    /**
     * The transfer is still in flight: however long it takes, the blocks stay quarantined (the subject's
     * session turns UNHEALTHY past quarantineTimeout and gets no new work); the transfer's end proves it
     * over and everything comes back.
     */
    static void quarantineEndsOnlyOnProof(Scenario sc) {
        Side me = sc.subject;
        int mark = sc.peer.port.mark();
        sc.h.advanceInSteps(Scenario.SUBJECT_QUARANTINE.multipliedBy(5), Duration.ofMillis(250));
        assertEquals(BLOCKS, me.pool.quarantinedBlocks(), "a timer is never proof");
        assertEquals(Session.State.UNHEALTHY, me.session().state());
        assertEquals(1, me.engine.unhealthySessions());
        assertEquals(List.of(), sc.peer.port.sentSince(mark, WireMessage.Released.class, ID), "nothing proves it over yet");
        if (sc.sit.announcer) {
            assertFalse(me.port.sent(WireMessage.Abort.class, ID).stream().noneMatch(a -> a.reason() == 6), "the announcer asks again");
        }
        Req refused = me.submit(2, 1);
        sc.h.pump();
        assertEquals(Status.FAILED, refused.outcome().status());
        assertEquals(TransferPhase.SUBMITTED, refused.outcome().phase());
        assertTrue(refused.outcome().detail().contains("unhealthy"), refused.outcome().detail());

        sc.transfer().land(true); // the write lands (into quarantined memory), and its end is the proof
        sc.h.advance(Duration.ofMillis(1)); // the mover polls its abandoned transfers on its sweep
        assertEquals(0, me.pool.quarantinedBlocks());
        assertEquals(0, sc.peer.pool.quarantinedBlocks());
        assertEquals(Session.State.ACTIVE, me.session().state());
        assertEquals(0, me.engine.unhealthySessions());
    }
}
