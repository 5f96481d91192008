package dev.kvx.transceiver.internal.engine;

import static dev.kvx.transceiver.internal.engine.Scenario.BLOCKS;
import static dev.kvx.transceiver.internal.engine.Scenario.ID;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.TransferMode;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferOutcome.Status;
import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.engine.EngineHarness.Req;
import dev.kvx.transceiver.internal.engine.EngineHarness.Side;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 11's suspected cases and the engine's bookkeeping across requests, deterministically: a proof
 * from the wrong session, shutdown with queued and live requests, any clock origin, and a peer's health
 * when another peer is lost. (The failed post of a multi-descriptor transfer is in
 * {@link StateMachineTransferFailureTest}.)
 */
class EngineSafetyTest {
    @ParameterizedTest
    @EnumSource(TransferMode.class)
    void aReleasedForAnAttemptOfOneSessionArrivingInAnotherSessionWithThePeerIsRefused(TransferMode mode) {
        try (Scenario sc = new Scenario(mode, Scenario.Situation.ANNOUNCER_WAITING_FOR_DATA)) {
            Side me = sc.subject;
            sc.req.cancel(); // the mover's write is in flight: the blocks are quarantined until it proves the attempt over
            sc.h.pump();
            assertEquals(BLOCKS, sc.req.outcome().quarantinedBlocks());
            Session first = sc.liveSession();
            sc.h.connect(sc.h.gen, sc.h.ctx); // a second session with the same peer
            Session second = sc.liveSession();
            assertNotSame(first, second);
            long stale = me.stale();
            int epoch = sc.req.epoch();
            sc.peer.sendIn(second, new WireMessage.Released(ID, epoch)); // right id and epoch, wrong session
            sc.peer.sendIn(second, new WireMessage.Done(ID, epoch));
            sc.h.advance(Duration.ofMillis(1));
            assertEquals(BLOCKS, me.pool.quarantinedBlocks(), "a proof is bound to the session of its attempt");
            assertEquals(stale + 2, me.stale());
            assertEquals(0, me.engine.counters().quarantinesProvenByRelease.get());
            sc.transfer().land(true); // the real proof, in the attempt's own session
            sc.h.advance(Duration.ofMillis(1));
            assertEquals(0, me.pool.quarantinedBlocks());
            assertEquals(1, me.engine.counters().quarantinesProvenByRelease.get());
            sc.finishAndCheck();
        }
    }

    @ParameterizedTest
    @EnumSource(TransferMode.class)
    void aRetryWhoseEarlierAttemptIsStillQuarantinedIsNotCancelledByTheReAskAboutThatAttempt(TransferMode mode) {
        CacheTransceiverConfig cfg = EngineHarness.config(mode, Duration.ofSeconds(100), Duration.ofSeconds(2), 4);
        try (EngineHarness h = new EngineHarness(cfg, cfg, 32, 0)) {
            Side announcer = h.announcer();
            Side mover = h.mover();
            Req m1 = mover.submit(ID, BLOCKS);
            Req a1 = announcer.submit(ID, BLOCKS);
            h.pump();
            FakeAgentPort.FakeXfer first = mover.port.lastTransfer();
            a1.cancel(); // the first attempt's transfer is in flight: quarantined on one side, abandoned on the other
            h.pump();
            assertEquals(Status.CANCELLED, m1.outcome().status());
            Req m2 = mover.submit(ID, BLOCKS); // the serving code retries; the mover side is first
            h.pump();
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, m2.phase());
            int asks = announcer.port.sent(WireMessage.Abort.class, ID).size();
            h.advanceInSteps(Duration.ofSeconds(1), Duration.ofMillis(100)); // the announcer asks again about the first attempt
            assertTrue(announcer.port.sent(WireMessage.Abort.class, ID).size() > asks, "re-asked");
            assertFalse(m2.done(), () -> "the retry was ended by a question about the first attempt: " + m2);
            Req a2 = announcer.submit(ID, BLOCKS);
            h.pump();
            mover.port.lastTransfer().land(true);
            h.pump();
            assertEquals(Status.COMPLETED, m2.outcome().status());
            assertEquals(Status.COMPLETED, a2.outcome().status());
            assertTrue((mode == TransferMode.PUSH ? a2 : m2).holdsContextData());
            first.land(true); // the first attempt's write ends: its proof frees both sides
            h.advance(Duration.ofMillis(1));
            h.finishEverything();
            h.closeAllHandles();
            h.assertAllFree();
            h.assertNoErrors();
        }
    }

    @ParameterizedTest
    @EnumSource(TransferMode.class)
    void shutdownEndsEveryQueuedAndLiveRequestExactlyOnceAndFreesAllButUnprovenQuarantines(TransferMode mode) {
        CacheTransceiverConfig cfg = EngineHarness.config(mode, Duration.ofSeconds(100), Duration.ofSeconds(200), 1);
        try (EngineHarness h = new EngineHarness(cfg, cfg, 32, 0)) {
            Side closing = h.ctx;
            List<Req> mine = new ArrayList<>();
            mine.add(closing.submit(1, 3)); // moves or announces, with a counterpart: in flight
            h.gen.submit(1, 3);
            h.pump();
            mine.add(closing.submit(2, 2)); // waits for its slot (push) or for the peer's slot... with a counterpart
            h.gen.submit(2, 2);
            mine.add(closing.submit(3, 1)); // no counterpart
            h.pump();
            mine.add(closing.submit(4, 1)); // queued: submitted, never taken in
            mine.add(closing.submit(5, 2));
            List<TransferPhase> phases = new ArrayList<>();
            for (Req r : mine) {
                assertFalse(r.done(), r.toString());
                phases.add(r.phase());
            }
            closing.engine.requestClose();
            closing.engine.shutdown();
            closing.engine.shutdown(); // a second call does nothing

            for (int i = 0; i < mine.size(); i++) {
                TransferOutcome o = mine.get(i).outcome();
                assertEquals(Status.CANCELLED, o.status(), o.detail());
                assertEquals(phases.get(i), o.phase(), "ended where it stood");
                assertTrue(o.detail().contains("closed"), o.detail());
            }
            assertTrue(closing.engine.isTerminated());
            assertTrue(closing.port.isClosed(), "the agent was destroyed");
            assertEquals(0, closing.engine.sendSlotsInUse() + closing.engine.recvSlotsInUse());
            for (Req r : mine) {
                r.record.closeByUser();
                assertTrue(r.record.isFreed(), r + ": the engine let go");
            }
            // Announced blocks whose mover never proved its write over stay quarantined (pull: the context side
            // announces); a mover's own abandoned blocks are freed, since destroying the agent ends its transfers.
            int held = mode == TransferMode.PULL ? mine.getFirst().outcome().quarantinedBlocks() : 0;
            assertEquals(held, closing.pool.quarantinedBlocks());
            assertEquals(closing.pool.capacity() - held, closing.pool.freeBlocks());

            // The peer heard the Aborts; its sends now fail (the agent is gone), so it finds the loss: all its blocks come back.
            h.advance(EngineHarness.CHECK);
            h.finishEverything();
            h.closeAllHandles();
            assertEquals(0, h.gen.pool.quarantinedBlocks() + h.gen.pool.allocatedBlocks());
            assertEquals(mine.size(), mine.stream().mapToInt(r -> r.outcomes.size()).sum(), "still one outcome each");
            h.assertNoErrors();
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0L, 1L << 40, -(1L << 62), Long.MIN_VALUE, Long.MAX_VALUE - 500_000_000L})
    void timeIsComparedByDifferencesOnlySoAnyClockOriginWorks(long origin) {
        CacheTransceiverConfig cfg = EngineHarness.config(TransferMode.PUSH, Duration.ofSeconds(1), Duration.ofSeconds(2), 4);
        try (EngineHarness h = new EngineHarness(cfg, cfg, 32, origin)) {
            Req c = h.ctx.submit(1, 3);
            Req g = h.gen.submit(1, 3);
            h.pump();
            g.cancel(); // the context side's write is in flight
            h.pump();
            assertEquals(BLOCKS, h.gen.pool.quarantinedBlocks());
            h.advanceInSteps(Duration.ofSeconds(4), Duration.ofMillis(250)); // wraps past Long.MAX_VALUE for the last origin
            assertEquals(Session.State.UNHEALTHY, h.gen.session().state(), "overdue past quarantineTimeout");
            assertTrue(h.gen.port.sent(WireMessage.Abort.class, 1).stream().anyMatch(a -> a.reason() == 6), "re-asked");
            h.ctx.port.lastTransfer().land(true);
            h.advance(Duration.ofMillis(1));
            assertEquals(0, h.gen.pool.quarantinedBlocks() + h.ctx.pool.quarantinedBlocks(), "proven over");
            assertEquals(Session.State.ACTIVE, h.gen.session().state());
            assertEquals(Status.CANCELLED, c.outcome().status());

            Req waiting = h.ctx.submit(2, 1); // nobody announces: its deadline ends it
            h.advance(Duration.ofMillis(999));
            assertFalse(waiting.done());
            h.advance(Duration.ofMillis(2));
            assertEquals(Status.TIMED_OUT, waiting.outcome().status());

            Req live = h.gen.submit(3, 1);
            h.pump();
            h.gen.port.failSendsTo("ctx", true);
            h.ctx.port.failSendsTo("gen", true);
            h.advance(EngineHarness.CHECK); // the liveness probe finds the loss
            assertEquals(Status.FAILED, live.outcome().status(), live.outcome().detail());
            h.finishEverything();
            h.closeAllHandles();
            h.assertAllFree();
            h.assertNoErrors();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aPeerWhoseProofArrivesAsAnotherPeerIsLostBecomesHealthyAgain(boolean lossInTheSameCycle) {
        CacheTransceiverConfig cfg = EngineHarness.config(TransferMode.PUSH, Duration.ofSeconds(100), Duration.ofSeconds(2), 4);
        try (EngineHarness h = new EngineHarness(cfg, cfg, 32, 1_000_000_000L)) {
            Side ctx2 = h.addContextSide("ctx2", cfg, 32);
            h.ctx.submit(1, 3);
            Req g1 = h.gen.submit(1, 3); // with ctx: its write will be in flight when g1 is cancelled
            h.gen.submitTo(ctx2, 2, 1, h.clock.nanoTime()); // with ctx2: announced, ctx2 never moves it
            h.pump();
            g1.cancel();
            h.pump();
            h.advanceInSteps(Duration.ofSeconds(3), Duration.ofMillis(100));
            Session withCtx = sessionWith(h.gen, "ctx");
            assertEquals(Session.State.UNHEALTHY, withCtx.state());

            // One duty cycle of the generation side takes ctx's proof and finds ctx2 gone; its sweep (every 100 µs)
            // is not due in that cycle, the liveness probe (every 100 ms) is.
            long lastCheck = h.clock.nanoTime(); // the last step ran the probe
            h.clock.set(lastCheck + EngineHarness.CHECK.toNanos() - 50_000);
            h.gen.doWork(); // sweeps (due), probe not due
            h.ctx.port.lastTransfer().land(true); // ctx's Done is in gen's inbox
            h.gen.port.failSendsTo("ctx2", true);
            h.clock.set(lastCheck + EngineHarness.CHECK.toNanos() + (lossInTheSameCycle ? 10_000 : 200_000));
            h.gen.doWork();
            assertEquals(0, h.gen.pool.quarantinedBlocks(), "proven over by the Done");
            h.advance(Duration.ofMillis(1));
            assertEquals(Session.State.ACTIVE, withCtx.state(), "nothing is overdue any more");
            Req next = h.gen.submit(7, 1);
            h.pump();
            assertFalse(next.done(), "a healthy peer takes new work: " + next);
            next.cancel();
            h.pump();
        }
    }

    private static Session sessionWith(Side side, String peer) {
        for (Session s : side.sessions()) {
            if (s.peerName().equals(peer)) {
                return s;
            }
        }
        throw new AssertionError("no session with " + peer);
    }
}
