package dev.kvx.transceiver.internal.engine;

import static dev.kvx.transceiver.internal.engine.Scenario.BLOCKS;
import static dev.kvx.transceiver.internal.engine.Scenario.ID;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.nixl.NixlException;
import dev.kvx.nixl.NixlFailures;
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
 * The two NIXL failures of the data transfer, seen from the mover that owns it (DATA_IN_FLIGHT) and from
 * the announcer that waits for it (WAITING_FOR_DATA), in both modes: an error status (terminal: NIXL
 * reported the transfer over) and a failed post of a multi-descriptor transfer (never terminal: parts of
 * it may be in flight and NIXL can no longer tell when they end — issue 11, item 7).
 */
class StateMachineTransferFailureTest {
    static Stream<Arguments> cases() {
        return Stream.of(TransferMode.values()).flatMap(m -> Stream.of(Situation.MOVER_DATA_IN_FLIGHT, Situation.ANNOUNCER_WAITING_FOR_DATA)
                .map(s -> Arguments.of(m, s)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void anErrorStatusEndsTheTransferTheMoverReleasesAndNothingStaysHeld(TransferMode mode, Situation sit) {
        try (Scenario sc = new Scenario(mode, sit)) {
            Side moverSide = sit.announcer ? sc.peer : sc.subject;
            Req mover = sit.announcer ? sc.counterpart : sc.req;
            Req announcer = sit.announcer ? sc.req : sc.counterpart;
            int mark = moverSide.port.mark();
            FakeAgentPort.FakeXfer x = sc.transfer();
            x.failStatus(NixlFailures.of("nixl_capi_get_xfer_status", -2, "scripted: the remote side refused the access"));
            sc.h.pump();

            TransferOutcome om = mover.outcome();
            assertEquals(Status.FAILED, om.status());
            assertEquals(TransferPhase.DATA_IN_FLIGHT, om.phase());
            assertEquals(-2, om.nativeCode());
            assertInstanceOf(NixlException.class, om.cause());
            assertEquals(0, om.quarantinedBlocks(), "an error status is terminal: nothing of it moves any more");
            assertTrue(x.closed, "the failed transfer was released");
            int epoch = announcer.epoch();
            assertEquals(List.of(new WireMessage.Abort(ID, epoch, 5, true)), moverSide.port.sentSince(mark, WireMessage.Abort.class, ID));
            assertEquals(List.of(new WireMessage.Released(ID, epoch)), moverSide.port.sentSince(mark, WireMessage.Released.class, ID));

            TransferOutcome oa = announcer.outcome();
            assertEquals(Status.CANCELLED, oa.status());
            assertEquals(TransferPhase.WAITING_FOR_DATA, oa.phase());
            assertTrue(oa.detail().contains("failed"), oa.detail());
            assertEquals(BLOCKS, oa.quarantinedBlocks(), "quarantined on the Abort, proven over by the Released behind it");
            assertEquals(0, sc.h.ctx.pool.quarantinedBlocks());
            assertEquals(0, sc.h.gen.pool.quarantinedBlocks());
            sc.finishAndCheck();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void aFailedPostOfAMultiDescriptorTransferIsNeverTerminalOnlyThePeersLossFreesIt(TransferMode mode, Situation sit) {
        FakeAgentPort.Post fail = FakeAgentPort.Post.THROW;
        try (Scenario sc = new Scenario(mode, sit, false, sit.announcer ? null : fail, sit.announcer ? fail : null)) {
            Side moverSide = sit.announcer ? sc.peer : sc.subject;
            Side announcerSide = moverSide.peer();
            Req mover = sit.announcer ? sc.counterpart : sc.req;
            Req announcer = sit.announcer ? sc.req : sc.counterpart;
            FakeAgentPort.FakeXfer x = sc.transfer();
            assertTrue(x.postThrew);
            assertEquals(BLOCKS, x.count, "a transfer of several descriptors");

            TransferOutcome om = mover.outcome();
            assertEquals(Status.FAILED, om.status());
            assertEquals(TransferPhase.DATA_IN_FLIGHT, om.phase());
            assertEquals(-2, om.nativeCode());
            assertEquals(BLOCKS, om.quarantinedBlocks(), "the mover keeps its own blocks: parts may still be read or written");
            assertFalse(x.closed, "the mover keeps the transfer");
            assertEquals(List.of(new WireMessage.Abort(ID, announcer.epoch(), 5, true)), moverSide.port.sent(WireMessage.Abort.class, ID));
            TransferOutcome oa = announcer.outcome();
            assertEquals(Status.CANCELLED, oa.status());
            assertEquals(BLOCKS, oa.quarantinedBlocks());

            // Parts of it land late, without a completion notice: still no proof. Time passes, far beyond the timeout.
            x.land(false);
            sc.h.advanceInSteps(Scenario.SUBJECT_QUARANTINE.multipliedBy(10), Duration.ofMillis(250));
            assertEquals(BLOCKS, moverSide.pool.quarantinedBlocks(), "a failed post is never treated as terminal");
            assertEquals(BLOCKS, announcerSide.pool.quarantinedBlocks(), "a timer is never proof");
            assertEquals(List.of(), moverSide.port.sent(WireMessage.Released.class, ID), "the mover never says Released");
            assertTrue(announcerSide.port.sent(WireMessage.Abort.class, ID).stream().filter(a -> a.reason() == 6).count() >= 10,
                    "the announcer keeps asking");
            assertEquals(Session.State.UNHEALTHY, sc.subject.session().state(), "the subject's timeout passed: its peer is unhealthy");
            assertEquals(Session.State.ACTIVE, sc.peer.session().state(), "the peer's 2,000 s timeout did not pass");
            Req refused = sc.subject.submit(2, 1);
            sc.h.pump();
            assertEquals(Status.FAILED, refused.outcome().status());
            assertTrue(refused.outcome().detail().contains("unhealthy"), refused.outcome().detail());

            // The proof: the peer goes away (its endpoint fails on both sides).
            moverSide.port.failSendsTo(announcerSide.name, true);
            announcerSide.port.failSendsTo(moverSide.name, true);
            sc.h.advance(EngineHarness.CHECK);
            assertEquals(0, moverSide.pool.quarantinedBlocks());
            assertEquals(0, announcerSide.pool.quarantinedBlocks());
            assertEquals(1, announcerSide.engine.counters().quarantinesProvenByPeerLoss.get());
            assertEquals(List.of(), moverSide.port.sent(WireMessage.Released.class, ID));
            sc.finishAndCheck();
        }
    }
}
