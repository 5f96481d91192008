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
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The state machine, deterministically: every phase of both roles in both modes × what comes from
 * outside — the peer's Abort, a stale message for another epoch, a message of another session with the
 * same peer, a duplicate submission, and the peer's loss.
 */
class StateMachinePeerEventTest {
    static Stream<Arguments> cases() {
        return Stream.of(TransferMode.values()).flatMap(m -> Stream.of(Situation.values()).map(s -> Arguments.of(m, s)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void anAbortFromThePeerEndsTheRequestOnceAndOnlyProofFreesWhatAWriteMayTouch(TransferMode mode, Situation sit) {
        try (Scenario sc = new Scenario(mode, sit)) {
            Side me = sc.subject;
            int mark = me.port.mark();
            if (sit == ANNOUNCER_SUBMITTED || sit == ANNOUNCER_WAITING_FOR_BUFFER) {
                // Nothing was announced, so no real mover can name this attempt: an authentic Abort that does.
                sc.peer.sendIn(sc.liveSession(), new WireMessage.Abort(ID, sc.req.epoch(), 2, true));
            } else {
                sc.counterpart.cancel(); // the peer gives up; its engine tells this side
                sc.peer.doWork(); // before this side's first cycle takes a queued submission in
            }
            sc.h.pump();
            if (sit == MOVER_SUBMITTED) {
                // The mover took the announcement that was waiting here when it was taken in: the peer's Abort of
                // that attempt ends it, before it moved anything (Released answered, nothing held).
                TransferOutcome o = sc.req.outcome();
                assertEquals(Status.CANCELLED, o.status(), o.detail());
                assertTrue(o.detail().contains("by peer"), o.detail());
                assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, o.phase());
                assertEquals(List.of(new WireMessage.Released(ID, sc.counterpart.epoch())),
                        me.port.sentSince(mark, WireMessage.Released.class, ID));
                assertEquals(0, o.quarantinedBlocks());
                sc.finishAndCheck();
                return;
            }
            TransferOutcome o = sc.req.outcome();
            assertEquals(Status.CANCELLED, o.status(), o.detail());
            assertTrue(o.detail().contains("by peer"), o.detail());
            assertEquals(sit.endPhase(), o.phase());
            assertEquals(List.of(), me.port.sentSince(mark, WireMessage.Abort.class, ID), "the peer aborted: no Abort back");
            List<WireMessage.Released> released = me.port.sentSince(mark, WireMessage.Released.class, ID);
            assertEquals(sit == MOVER_WAITING_FOR_BUFFER ? 1 : 0, released.size(), "Released: " + released);
            boolean holds = sit == ANNOUNCER_WAITING_FOR_DATA || sit == MOVER_DATA_IN_FLIGHT;
            assertEquals(holds ? BLOCKS : 0, o.quarantinedBlocks());
            assertEquals(holds ? BLOCKS : 0, me.pool.quarantinedBlocks());
            if (sc.counterpart != null && sit != ANNOUNCER_SUBMITTED && sit != ANNOUNCER_WAITING_FOR_BUFFER) {
                assertEquals(Status.CANCELLED, sc.counterpart.outcome().status());
            }
            if (holds) {
                StateMachineSelfEndTest.quarantineEndsOnlyOnProof(sc);
            }
            sc.finishAndCheck();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void aStaleMessageForAnotherEpochTouchesNothing(TransferMode mode, Situation sit) {
        try (Scenario sc = new Scenario(mode, sit)) {
            int other = sc.attemptEpoch() + 1000;
            staleMessagesTouchNothing(sc, sc.liveSession(), other, false);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void aMessageOfAnotherSessionWithThePeerTouchesNothing(TransferMode mode, Situation sit) {
        try (Scenario sc = new Scenario(mode, sit, true, null, null)) {
            assertEquals(2, sc.peer.sessions().size());
            staleMessagesTouchNothing(sc, sc.oldSession(), sc.attemptEpoch(), true);
        }
    }

    /**
     * Sends, in {@code session}, the messages that would end or complete the request if they were meant
     * for it; none may, each is counted stale; then the request completes normally with the right data.
     */
    private static void staleMessagesTouchNothing(Scenario sc, Session session, int epoch, boolean otherSession) {
        Side me = sc.subject;
        boolean pull = sc.mode == TransferMode.PULL;
        List<WireMessage> messages;
        if (sc.sit.announcer) {
            messages = List.of(new WireMessage.Done(ID, epoch), new WireMessage.Abort(ID, epoch, 2, true), new WireMessage.Released(ID, epoch));
        } else if (sc.sit.boundMover()) {
            messages = otherSession
                    ? List.of(new WireMessage.Abort(ID, epoch, 2, false), new WireMessage.Announce(ID, epoch, 0, pull, new int[] {0, 1, 2}))
                    : List.of(new WireMessage.Abort(ID, epoch, 2, false), new WireMessage.Abort(ID, epoch, 6, false),
                            new WireMessage.Announce(ID, epoch, 0, pull, new int[] {0, 1, 2}));
        } else {
            // A mover waiting for its announcement belongs to no attempt yet. It takes the peer's give-up (an Abort
            // for its id) from any session of that peer, but never a re-ask (reason 6): that one asks about an
            // earlier attempt that was announced, quarantined and is still unproven.
            messages = List.of(new WireMessage.Abort(ID, epoch, 6, false), new WireMessage.Done(ID, epoch), new WireMessage.Released(ID, epoch));
        }
        long stale = me.stale();
        TransferPhase before = sc.req.phase();
        for (WireMessage m : messages) {
            sc.peer.sendIn(session, m);
        }
        sc.h.pump();
        assertFalse(sc.req.done(), () -> "touched by a message not meant for it: " + sc.req);
        if (sc.sit.phase != TransferPhase.SUBMITTED) {
            assertEquals(before, sc.req.phase());
        }
        assertEquals(stale + messages.size(), me.stale(), "each counted stale");
        assertFalse(sc.counterpart.done(), sc.counterpart.toString());
        sc.completeNormally();
        sc.finishAndCheck();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void aDuplicateSubmissionFailsAloneAndTheLiveRequestCompletes(TransferMode mode, Situation sit) {
        try (Scenario sc = new Scenario(mode, sit)) {
            Side me = sc.subject;
            int mark = me.port.mark();
            TransferPhase before = sc.req.phase();
            Req dup = me.submit(ID, BLOCKS);
            sc.h.pump();
            TransferOutcome od = dup.outcome();
            assertEquals(Status.FAILED, od.status());
            assertEquals(TransferPhase.SUBMITTED, od.phase());
            assertTrue(od.detail().contains("already in transfer"), od.detail());
            assertEquals(0, od.quarantinedBlocks());
            assertFalse(sc.req.done(), sc.req.toString());
            if (sit.phase != TransferPhase.SUBMITTED) {
                assertEquals(before, sc.req.phase(), "the live request's state was not touched");
            }
            assertEquals(List.of(), me.port.sentSince(mark, WireMessage.Abort.class, ID), "the peer hears nothing of the duplicate");
            assertEquals(List.of(), me.port.sentSince(mark, WireMessage.Released.class, ID));
            dup.record.closeByUser();
            assertTrue(dup.record.isFreed(), "the engine let go of the refused duplicate");
            sc.completeNormally();
            sc.finishAndCheck();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void peerLossFailsTheRequestAtOnceAndItsEndIsTheProofForEveryBlock(TransferMode mode, Situation sit) {
        try (Scenario sc = new Scenario(mode, sit)) {
            Side me = sc.subject;
            me.port.failSendsTo(sc.peer.name, true); // the link is gone both ways
            sc.peer.port.failSendsTo(me.name, true);
            int mark = me.port.mark();
            sc.h.advance(EngineHarness.CHECK); // the next liveness probe fails
            TransferOutcome o = sc.req.outcome();
            assertEquals(Status.FAILED, o.status(), o.detail());
            assertTrue(o.detail().contains("unreachable"), o.detail());
            TransferPhase expected = switch (sit) {
                case ANNOUNCER_SUBMITTED -> TransferPhase.WAITING_FOR_BUFFER; // its Announce is the send that fails
                case MOVER_SUBMITTED -> TransferPhase.WAITING_FOR_BUFFER; // took the pending announcement, then the probe failed
                default -> sit.phase;
            };
            assertEquals(expected, o.phase());
            assertEquals(mark, me.port.mark(), "nothing reaches a lost peer");
            assertEquals(0, o.quarantinedBlocks(), "a lost peer's endpoint is gone: nothing of it can land");
            assertEquals(0, me.pool.quarantinedBlocks());
            assertEquals(0, me.engine.liveSessions());
            assertEquals(1, me.engine.counters().peersLost.get());
            assertFalse(me.port.hasRemote(sc.peer.name), "this side dropped its endpoint to the peer");
            if (sit == MOVER_DATA_IN_FLIGHT) {
                assertTrue(sc.transfer().closed, "the transfer was released");
            }
            assertEquals(Status.FAILED, sc.counterpart.outcome().status(), "the peer's side found the loss as well");
            sc.finishAndCheck();
        }
    }
}
