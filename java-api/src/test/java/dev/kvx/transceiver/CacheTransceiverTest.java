package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.transceiver.TransferOutcome.Status;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The transceiver over real NIXL: the happy path and the reference's failure modes, one test each. */
class CacheTransceiverTest {
    private static final Duration SHORT = Duration.ofMillis(300);

    private static TransferOutcome outcome(LlmRequest r) throws Exception {
        return r.outcome().get(30, TimeUnit.SECONDS);
    }

    @Test
    void happyPathMovesEveryBlockWithVerifiedContents() throws Exception {
        Random rnd = new Random(1);
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withBufferCounts(2, 2))) {
            for (long id = 1; id <= 50; id++) {
                LlmRequest c = p.filledContextRequest(id, 4, rnd);
                LlmRequest g = p.gen.createRequest(id, 4);
                p.ctxRef.respondAndSendAsync(c);
                p.genRef.requestAndReceiveAsync(g);
                assertEquals(Status.COMPLETED, outcome(c).status(), () -> outcome0(c));
                assertEquals(Status.COMPLETED, outcome(g).status(), () -> outcome0(g));
                for (int b = 0; b < 4; b++) {
                    assertArrayEquals(readCtx(p, c, b), p.gen.readBlock(g, b), "request " + id + " block " + b);
                }
                assertEquals(RequestState.COMPLETED, g.state());
                c.close();
                g.close();
            }
            ReferenceTransceiver.CheckResult ctxCheck = p.ctxRef.checkContextTransferStatus(0);
            assertEquals(50, ctxCheck.completed().size());
            assertEquals(50, p.genRef.checkGenTransferStatus(0).completed().size());
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    private static byte[] readCtx(TransceiverPair p, LlmRequest c, int b) {
        return p.ctx.readBlock(c, b);
    }

    private static String outcome0(LlmRequest r) {
        return String.valueOf(r.outcome().getNow(null));
    }

    @Test
    void f1UseAfterFreeIsImpossibleTheRecordOutlivesTheCallersCloseUntilTheOutcome() throws Exception {
        FaultsForTest faults = new FaultsForTest();
        faults.withholdTransfers = true; // keep the transfer pending for a while
        // The context side's deadline is longer, so the generation side's deadline fires first.
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(10)).withFaults(faults),
                TransceiverPair.quick(SHORT), 64)) {
            LlmRequest c = p.filledContextRequest(1, 2, new Random(2));
            LlmRequest g = p.gen.createRequest(1, 2);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            g.close(); // the serving code drops the request mid-transfer
            c.close();
            assertFalse(g.isFreed(), "the engine still holds the record");
            TransferOutcome og = outcome(g);
            assertEquals(Status.TIMED_OUT, og.status());
            assertEquals(TransferPhase.WAITING_FOR_DATA, og.phase());
            outcome(c);
            assertTrue(eventually(g::isFreed));
            assertThrows(AlreadyClosedException.class, g::state, "a read through a dropped handle throws");
            assertThrows(AlreadyClosedException.class, g::blockIds);
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f2DeadlinesGenerationPeerThatNeverAsksAndContextPeerThatNeverWrites() throws Exception {
        FaultsForTest silentGen = new FaultsForTest();
        silentGen.dropAnnounce = true;
        // The generation side's deadline is longer, so the context side's deadline is the one that fires.
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(SHORT),
                TransceiverPair.quick(Duration.ofSeconds(1)).withFaults(silentGen), 64)) {
            LlmRequest c = p.filledContextRequest(10, 2, new Random(3));
            LlmRequest g = p.gen.createRequest(10, 2);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            TransferOutcome oc = outcome(c);
            assertEquals(Status.TIMED_OUT, oc.status());
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, oc.phase(), "the context side never got request info");
            TransferOutcome og0 = outcome(g);
            // The announcement was lost, so the context side never knew this attempt: its own deadline ends it.
            assertEquals(Status.TIMED_OUT, og0.status(), og0.detail());
            // It cannot know the announcement was lost: its blocks wait for the context side's answer to its Abort.
            assertEquals(2, og0.quarantinedBlocks());
            c.close();
            g.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
        FaultsForTest lazyCtx = new FaultsForTest();
        lazyCtx.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(10)).withFaults(lazyCtx),
                TransceiverPair.quick(SHORT), 64)) {
            LlmRequest c = p.filledContextRequest(11, 2, new Random(4));
            LlmRequest g = p.gen.createRequest(11, 2);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            TransferOutcome og = outcome(g);
            assertEquals(Status.TIMED_OUT, og.status());
            assertEquals(TransferPhase.WAITING_FOR_DATA, og.phase());
            assertEquals(Status.CANCELLED, outcome(c).status(), "the generation side's Abort reached the context side");
            c.close();
            g.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f2AndF11NeverReadyRequestTimesOutUnderAtLeastZeroAndBlockAllReturns() throws Exception {
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(SHORT))) {
            LlmRequest c = p.filledContextRequest(20, 1, new Random(5)); // no generation side ever asks
            p.ctxRef.respondAndSendAsync(c);
            assertTrue(p.ctxRef.checkContextTransferStatus(0).completed().isEmpty());
            long t0 = System.nanoTime();
            ReferenceTransceiver.CheckResult all = p.ctxRef.checkContextTransferStatusBlockAll();
            assertEquals(List.of(20L), all.failed(), "blockAll came back with the timed-out request");
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30), "bounded");
            assertEquals(Status.TIMED_OUT, outcome(c).status());
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, outcome(c).phase());
            c.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f3ReceiverWhoseDeadlineFiredHoldsNothingAfterwards() throws Exception {
        FaultsForTest lazyCtx = new FaultsForTest();
        lazyCtx.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(10)).withFaults(lazyCtx), TransceiverPair.quick(SHORT), 64)) {
            LlmRequest c = p.filledContextRequest(30, 3, new Random(6));
            LlmRequest g = p.gen.createRequest(30, 3);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            TransferOutcome og = outcome(g);
            assertEquals(Status.TIMED_OUT, og.status());
            assertEquals(3, og.quarantinedBlocks(), "blocks the peer may still write are held back, not reused");
            assertEquals(0, g.blockCount(), "the request no longer owns them");
            assertEquals(0, p.gen.metrics().snapshot().recvSlotsInUse(), "lease returned on the deadline tick");
            outcome(c);
            c.close();
            g.close();
            assertTrue(eventually(() -> p.gen.metrics().snapshot().quarantinedBlocks() == 0), "peer's Released ends the quarantine");
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f4AndF6PoolOfOneUnder200RequestsWithFaultsOnEveryPathEveryRequestGetsExactlyOneOutcome() throws Exception {
        for (long seed : new long[] {11, 12}) {
            FaultsForTest ctxFaults = FaultsForTest.random(seed, 0.05);
            FaultsForTest genFaults = FaultsForTest.random(seed + 100, 0.05);
            CacheTransceiverConfig base = TransceiverPair.quick(Duration.ofMillis(400)).withBufferCounts(1, 1);
            try (TransceiverPair p = new TransceiverPair(base.withFaults(ctxFaults), base.withFaults(genFaults), 1024)) {
                List<LlmRequest> all = new ArrayList<>();
                Random rnd = new Random(seed);
                for (long id = 1; id <= 200; id++) {
                    LlmRequest c = p.filledContextRequest(id, 1 + rnd.nextInt(3), rnd);
                    LlmRequest g = p.gen.createRequest(id, c.blockCount());
                    p.ctx.send(c, p.gen.name());
                    p.gen.receive(g, p.ctx.name());
                    all.add(c);
                    all.add(g);
                }
                int[] completions = new int[1];
                for (LlmRequest r : all) {
                    TransferOutcome o = outcome(r);
                    assertNotNull(o.status());
                    assertThrows(UnsupportedOperationException.class, () -> r.outcome().complete(o), "only the engine completes it");
                    completions[0]++;
                    r.close();
                }
                assertEquals(400, completions[0]);
                TransceiverMetrics.Snapshot c = p.ctx.metrics().snapshot();
                TransceiverMetrics.Snapshot g = p.gen.metrics().snapshot();
                assertEquals(c.submitted(), c.outcomes(), "context: one outcome per request\n" + p.describe());
                assertEquals(g.submitted(), g.outcomes(), "generation: one outcome per request\n" + p.describe());
                assertTrue(c.completed() > 0 && g.completed() > 0, "faults at 5% leave most requests served\n" + p.describe());
                assertTrue(eventually(() -> noneHeld(p)), "no slot leaked, no block left allocated\n" + p.describe());
                // What is still quarantined belongs to attempts whose mover never says Released (the faults drop
                // every Released of a few ids for good): a timer never frees it; the peer's loss does.
                p.ctx.close();
                assertTrue(eventually(() -> p.genPool.freeBlocks() == p.genPool.capacity()), p.describe());
                assertEquals(p.ctxPool.capacity(), p.ctxPool.freeBlocks(), p.describe());
            }
        }
    }

    private static boolean noneHeld(TransceiverPair p) {
        TransceiverMetrics.Snapshot c = p.ctx.metrics().snapshot();
        TransceiverMetrics.Snapshot g = p.gen.metrics().snapshot();
        return c.sendSlotsInUse() + c.recvSlotsInUse() + g.sendSlotsInUse() + g.recvSlotsInUse() == 0 && c.allocatedBlocks() == 0
                && g.allocatedBlocks() == 0;
    }

    @Test
    void f5AnExceptionInOneRequestFailsOnlyThatRequest() throws Exception {
        FaultsForTest faults = new FaultsForTest();
        faults.throwForRequest = 41;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(faults), CacheTransceiverConfig.defaults(), 64)) {
            List<LlmRequest> ctxReqs = new ArrayList<>();
            List<LlmRequest> genReqs = new ArrayList<>();
            for (long id = 40; id <= 43; id++) {
                LlmRequest c = p.filledContextRequest(id, 1, new Random(id));
                LlmRequest g = p.gen.createRequest(id, 1);
                p.ctx.send(c, p.gen.name());
                p.gen.receive(g, p.ctx.name());
                ctxReqs.add(c);
                genReqs.add(g);
            }
            for (LlmRequest c : ctxReqs) {
                TransferOutcome o = outcome(c);
                if (c.id() == 41) {
                    assertEquals(Status.FAILED, o.status());
                    assertTrue(o.cause() instanceof IllegalStateException, String.valueOf(o.cause()));
                } else {
                    assertEquals(Status.COMPLETED, o.status(), o.detail());
                }
            }
            for (LlmRequest g : genReqs) {
                assertEquals(g.id() == 41 ? Status.CANCELLED : Status.COMPLETED, outcome(g).status(), "peer told of the failure");
            }
            assertTrue(p.ctx.metrics().snapshot().requestErrors() >= 1);
            ctxReqs.forEach(LlmRequest::close);
            genReqs.forEach(LlmRequest::close);
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f7CancelInEveryPhaseOnEachSideReleasesEverythingAndBothSidesHearOfIt() throws Exception {
        // context side, waiting for request info
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults())) {
            LlmRequest c = p.filledContextRequest(50, 1, new Random(7));
            p.ctx.send(c, p.gen.name());
            awaitPhase(c, TransferPhase.WAITING_FOR_REQUEST_INFO);
            assertTrue(p.ctx.cancelRequest(c));
            assertEquals(Status.CANCELLED, outcome(c).status());
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, outcome(c).phase());
            assertFalse(p.ctx.cancelRequest(c), "already ended");
            c.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
        // generation side waiting for data; the context side (data withheld) hears of it
        FaultsForTest lazyCtx = new FaultsForTest();
        lazyCtx.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(lazyCtx), CacheTransceiverConfig.defaults(), 64)) {
            LlmRequest c = p.filledContextRequest(51, 2, new Random(8));
            LlmRequest g = p.gen.createRequest(51, 2);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            awaitPhase(g, TransferPhase.WAITING_FOR_DATA);
            awaitPhase(c, TransferPhase.DATA_IN_FLIGHT);
            assertTrue(p.gen.cancelRequest(g));
            assertEquals(Status.CANCELLED, outcome(g).status());
            TransferOutcome oc = outcome(c);
            assertEquals(Status.CANCELLED, oc.status());
            assertTrue(oc.detail().contains("by peer"), oc.detail());
            c.close();
            g.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
        // generation side waiting for a buffer slot (its only slot is held by another request)
        FaultsForTest lazy2 = new FaultsForTest();
        lazy2.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(lazy2), CacheTransceiverConfig.defaults(), 64)) {
            LlmRequest c1 = p.filledContextRequest(52, 1, new Random(9));
            LlmRequest g1 = p.gen.createRequest(52, 1);
            LlmRequest g2 = p.gen.createRequest(53, 1);
            p.ctx.send(c1, p.gen.name());
            p.gen.receive(g1, p.ctx.name());
            awaitPhase(g1, TransferPhase.WAITING_FOR_DATA);
            p.gen.receive(g2, p.ctx.name());
            awaitPhase(g2, TransferPhase.WAITING_FOR_BUFFER);
            assertTrue(p.gen.cancelRequest(g2));
            assertEquals(Status.CANCELLED, outcome(g2).status());
            assertEquals(TransferPhase.WAITING_FOR_BUFFER, outcome(g2).phase());
            assertTrue(p.ctx.cancelRequest(c1)); // context side, data "in flight"
            assertEquals(Status.CANCELLED, outcome(c1).status());
            assertEquals(Status.CANCELLED, outcome(g1).status());
            for (LlmRequest r : List.of(c1, g1, g2)) {
                r.close();
            }
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    private static void awaitPhase(LlmRequest r, TransferPhase phase) throws InterruptedException {
        assertTrue(eventually(() -> r.phase() == phase), () -> "request " + r.id() + " never reached " + phase + ", is " + r.phase());
    }

    @Test
    void f8AfterAnOverloadThatTimedRequestsOutTheSystemServesAgainWithEverySlotAndBlockFree() throws Exception {
        FaultsForTest stuck = new FaultsForTest();
        stuck.dropAnnounce = true; // stuck generation peers during the burst
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(SHORT), TransceiverPair.quick(SHORT).withFaults(stuck), 128)) {
            List<LlmRequest> burst = new ArrayList<>();
            for (long id = 100; id < 130; id++) {
                LlmRequest c = p.filledContextRequest(id, 2, new Random(id));
                LlmRequest g = p.gen.createRequest(id, 2);
                p.ctx.send(c, p.gen.name());
                p.gen.receive(g, p.ctx.name());
                burst.add(c);
                burst.add(g);
            }
            int timedOut = 0;
            for (LlmRequest r : burst) {
                Status s = outcome(r).status();
                // Whichever side's deadline fires first times out; its Abort cancels the other side.
                assertTrue(s == Status.TIMED_OUT || s == Status.CANCELLED, "request " + r.id() + ": " + s);
                timedOut += s == Status.TIMED_OUT ? 1 : 0;
                r.close();
            }
            assertTrue(timedOut >= 30, "at least one side of each pair timed out: " + timedOut);
            stuck.dropAnnounce = false; // the peers recover; go idle, then probe
            assertTrue(eventually(p::allFree), p.describe());
            Random rnd = new Random(99);
            for (long id = 200; id < 205; id++) {
                LlmRequest c = p.filledContextRequest(id, 2, rnd);
                LlmRequest g = p.gen.createRequest(id, 2);
                p.ctx.send(c, p.gen.name());
                p.gen.receive(g, p.ctx.name());
                assertEquals(Status.COMPLETED, outcome(c).status(), "probe " + id);
                assertEquals(Status.COMPLETED, outcome(g).status(), "probe " + id);
                assertArrayEquals(p.ctx.readBlock(c, 1), p.gen.readBlock(g, 1));
                c.close();
                g.close();
            }
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f9ALateNoticeOfACancelledRequestNeverCompletesAnotherRequest() throws Exception {
        FaultsForTest lazyCtx = new FaultsForTest();
        lazyCtx.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(lazyCtx),
                CacheTransceiverConfig.defaults().withBufferCounts(1, 2), 64)) {
            LlmRequest cancelled = p.gen.createRequest(60, 1);
            LlmRequest next = p.gen.createRequest(61, 1);
            LlmRequest c60 = p.filledContextRequest(60, 1, new Random(10));
            p.ctx.send(c60, p.gen.name());
            p.gen.receive(cancelled, p.ctx.name());
            awaitPhase(cancelled, TransferPhase.WAITING_FOR_DATA);
            p.gen.cancelRequest(cancelled);
            assertEquals(Status.CANCELLED, outcome(cancelled).status());
            p.gen.receive(next, p.ctx.name());
            awaitPhase(next, TransferPhase.WAITING_FOR_DATA);
            long staleBefore = p.gen.metrics().snapshot().staleMessages();
            // The late notices a buggy or slow peer could send: for the cancelled id with another epoch, and
            // for the next id with a wrong epoch. Every message carries the full id and the attempt's epoch.
            p.ctx.sendRawForTest(p.gen.name(), new WireMessage.Done(60, cancelled.epoch() + 1000));
            p.ctx.sendRawForTest(p.gen.name(), new WireMessage.Done(61, next.epoch() + 999));
            assertTrue(eventually(() -> p.gen.metrics().snapshot().staleMessages() >= staleBefore + 2), p.describe());
            assertFalse(next.outcome().isDone(), "request 61 was not completed by a notice meant for another attempt");
            p.gen.cancelRequest(next);
            outcome(next);
            for (LlmRequest r : List.of(cancelled, next, c60)) {
                r.close();
            }
            outcome(c60);
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f10BlocksAPeerMayStillWriteStayQuarantinedWhateverTheTimerUntilProofAndTheSilentPeerIsMarkedUnhealthy() throws Exception {
        FaultsForTest silentCtx = new FaultsForTest();
        silentCtx.withholdTransfers = true; // the write is "in flight" from the generation side's view
        silentCtx.dropReleased = true; // and the context side never confirms that it is over
        int capacity = 5;
        CacheTransceiverConfig genConfig = TransceiverPair.quick(Duration.ofSeconds(30)).withQuarantineTimeout(Duration.ofMillis(300));
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(silentCtx), genConfig, capacity)) {
            LlmRequest c = p.filledContextRequest(70, 4, new Random(11));
            LlmRequest g = p.gen.createRequest(70, 4);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            awaitPhase(g, TransferPhase.WAITING_FOR_DATA);
            awaitPhase(c, TransferPhase.DATA_IN_FLIGHT);
            p.gen.cancelRequest(g);
            TransferOutcome og = outcome(g);
            assertEquals(4, og.quarantinedBlocks(), "the outcome says the memory was quarantined");
            g.close();
            assertEquals(Status.CANCELLED, outcome(c).status());
            c.close();
            assertEquals(1, p.genPool.freeBlocks(), "4 blocks quarantined: none can go to another request");
            assertThrows(dev.kvx.KvxException.class, () -> p.gen.createRequest(71, 2));
            // quarantineTimeout passes (several times over): the peer is marked unhealthy, the blocks stay put.
            assertTrue(eventually(() -> p.gen.metrics().snapshot().unhealthyPeers() == 1), p.describe());
            Thread.sleep(1_000);
            assertEquals(4, p.genPool.quarantinedBlocks(), "a timer is never proof: " + p.describe());
            // An unhealthy peer gets no new work, and says why.
            LlmRequest refused = p.gen.createRequest(72, 1);
            TransferOutcome or = p.gen.receive(refused, p.ctx.name()).get(10, TimeUnit.SECONDS);
            assertEquals(Status.FAILED, or.status());
            assertTrue(or.detail().contains("unhealthy"), or.detail());
            refused.close();
            // Proof at last: the peer's process goes away (its endpoint fails), so nothing it sent can land.
            p.ctx.close();
            assertTrue(eventually(() -> p.genPool.freeBlocks() == capacity), p.describe());
            TransceiverMetrics.Snapshot s = p.gen.metrics().snapshot();
            assertEquals(1, s.quarantinesProvenByPeerLoss(), p.describe());
            assertEquals(1, s.peersLost());
        }
    }

    @Test
    void f10ALateWriteLandsOnlyInQuarantinedBlocksAndItsReleaseFreesThem() throws Exception {
        FaultsForTest lateCtx = new FaultsForTest();
        lateCtx.lateTransfer = Duration.ofMillis(1500); // lands long after the generation side gave up
        int capacity = 4;
        CacheTransceiverConfig genConfig = TransceiverPair.quick(Duration.ofSeconds(30)).withQuarantineTimeout(Duration.ofMillis(300));
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(lateCtx), genConfig, capacity)) {
            LlmRequest c = p.filledContextRequest(75, 4, new Random(21));
            byte[][] sent = new byte[4][];
            for (int b = 0; b < 4; b++) {
                sent[b] = p.ctx.readBlock(c, b);
            }
            LlmRequest g = p.gen.createRequest(75, 4);
            int[] genBlocks = g.blockIds();
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            awaitPhase(c, TransferPhase.DATA_IN_FLIGHT);
            p.gen.cancelRequest(g);
            assertEquals(4, outcome(g).quarantinedBlocks());
            assertEquals(Status.CANCELLED, outcome(c).status());
            lateCtx.lateTransfer = Duration.ZERO;
            assertTrue(eventually(() -> p.gen.metrics().snapshot().unhealthyPeers() == 1), "overdue: " + p.describe());
            assertEquals(0, p.genPool.freeBlocks(), "no block goes back on a timer");
            // The late write lands, then its completion notice proves it over: only now are the blocks free.
            assertTrue(eventually(() -> p.genPool.freeBlocks() == capacity), p.describe());
            for (int b = 0; b < 4; b++) {
                byte[] landed = new byte[(int) TransceiverPair.LAYOUT.blockBytes()];
                p.genPool.region().copyToHost(p.genPool.offset(genBlocks[b]), landed);
                assertArrayEquals(sent[b], landed, "the late write landed in block " + genBlocks[b] + ", which was still quarantined");
            }
            assertTrue(eventually(() -> p.gen.metrics().snapshot().unhealthyPeers() == 0), "healthy again: " + p.describe());
            c.close();
            g.close();
            assertTrue(eventually(() -> p.ctxPool.freeBlocks() == capacity), "the late write's source blocks came back: " + p.describe());
            // Served again, and nothing overwrites the new owner's blocks afterwards.
            LlmRequest c2 = p.filledContextRequest(76, 4, new Random(22));
            LlmRequest g2 = p.gen.createRequest(76, 4);
            p.ctx.send(c2, p.gen.name());
            p.gen.receive(g2, p.ctx.name());
            assertEquals(Status.COMPLETED, outcome(g2).status(), p.describe());
            Thread.sleep(300);
            for (int b = 0; b < 4; b++) {
                assertArrayEquals(p.ctx.readBlock(c2, b), p.gen.readBlock(g2, b), "block " + b + " of the new owner");
            }
            c2.close();
            g2.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void aPeerThatGoesAwayFailsItsRequestsLongBeforeTheirDeadline() throws Exception {
        // 30 s deadlines; the generation side's transceiver (and its NIXL agent) goes away mid-request.
        CacheTransceiverConfig config = TransceiverPair.quick(Duration.ofSeconds(30));
        try (TransceiverPair p = new TransceiverPair(config)) {
            LlmRequest waiting = p.ctx.createRequest(950, 2); // waits for request info that will never come
            long t0 = System.nanoTime();
            var outcome = p.ctx.send(waiting, p.gen.name()).toCompletableFuture();
            awaitPhase(waiting, TransferPhase.WAITING_FOR_REQUEST_INFO);
            p.gen.close();
            TransferOutcome o = outcome.get(20, java.util.concurrent.TimeUnit.SECONDS);
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(Status.FAILED, o.status(), o.toString());
            assertTrue(o.detail().contains("unreachable"), o.detail());
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, o.phase());
            assertTrue(tookMs < 15_000, "ended by the peer check, not by the 30 s deadline (took " + tookMs + " ms)");
            assertEquals(1, p.ctx.metrics().snapshot().peersLost());
            waiting.close();
            assertTrue(eventually(() -> p.ctxPool.freeBlocks() == p.ctxPool.capacity()), p.describe());
        }
    }

    @Test
    void aDuplicateRequestIdFailsOnlyTheDuplicateAndTheLiveRequestStillCompletes() throws Exception {
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(20)))) {
            LlmRequest live = p.gen.createRequest(900, 2);
            p.gen.receive(live, p.ctx.name());
            awaitPhase(live, TransferPhase.WAITING_FOR_DATA);
            LlmRequest duplicate = p.gen.createRequest(900, 2);
            TransferOutcome od = p.gen.receive(duplicate, p.ctx.name()).get(10, TimeUnit.SECONDS);
            assertEquals(Status.FAILED, od.status());
            assertTrue(od.detail().contains("already in transfer"), od.detail());
            duplicate.close();
            // The live request was neither dropped from the engine nor cancelled on the peer.
            LlmRequest c = p.filledContextRequest(900, 2, new Random(3));
            p.ctx.send(c, p.gen.name());
            assertEquals(Status.COMPLETED, outcome(live).status(), p.describe());
            assertEquals(Status.COMPLETED, outcome(c).status());
            assertArrayEquals(p.ctx.readBlock(c, 1), p.gen.readBlock(live, 1));
            live.close();
            c.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void oneHandleSubmittedTwiceIsRefusedWithoutTouchingTheLiveSubmission() throws Exception {
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(20)))) {
            LlmRequest g = p.gen.createRequest(910, 2);
            TransferFuture first = p.gen.receive(g, p.ctx.name());
            awaitPhase(g, TransferPhase.WAITING_FOR_DATA);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.gen.receive(g, p.ctx.name()));
            assertTrue(e.getMessage().contains("already submitted"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> p.gen.send(g, p.ctx.name()));
            assertFalse(first.isDone(), "the live transfer's future was not touched");
            assertEquals(RequestState.IN_TRANSFER, g.state());
            assertEquals(TransferPhase.WAITING_FOR_DATA, g.phase(), "its state was not overwritten");
            assertTrue(p.gen.cancelRequest(g), "cancel still reaches the live transfer");
            assertEquals(Status.CANCELLED, first.get(10, TimeUnit.SECONDS).status());
            g.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f12AFailedTransferReturnsTheOnlySendSlotAndACancelParkedOnTheSlotEndsAtOnce() throws Exception {
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withBufferCounts(1, 1))) {
            // The peer announces a block outside its pool: the context side refuses the transfer.
            LlmRequest bad = p.filledContextRequest(90, 1, new Random(13));
            p.ctx.send(bad, p.gen.name());
            awaitPhase(bad, TransferPhase.WAITING_FOR_REQUEST_INFO);
            p.gen.sendRawForTest(p.ctx.name(), new WireMessage.Announce(90, 77, 0, false, new int[] {p.genPool.capacity() + 5}));
            TransferOutcome ob = outcome(bad);
            assertEquals(Status.FAILED, ob.status());
            assertTrue(ob.detail().contains("outside its pool"), ob.detail());
            assertEquals(0, p.ctx.metrics().snapshot().sendSlotsInUse(), "the only send slot came back");
            LlmRequest c = p.filledContextRequest(91, 1, new Random(14));
            LlmRequest g = p.gen.createRequest(91, 1);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            assertEquals(Status.COMPLETED, outcome(g).status(), "the next request is served");
            assertEquals(Status.COMPLETED, outcome(c).status());
            for (LlmRequest r : List.of(bad, c, g)) {
                r.close();
            }
            assertTrue(eventually(p::allFree), p.describe());
        }
        FaultsForTest lazy = new FaultsForTest();
        lazy.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withBufferCounts(1, 2).withFaults(lazy),
                CacheTransceiverConfig.defaults().withBufferCounts(1, 2), 64)) {
            LlmRequest holder = p.filledContextRequest(92, 1, new Random(15));
            LlmRequest parked = p.filledContextRequest(93, 1, new Random(16));
            LlmRequest g92 = p.gen.createRequest(92, 1);
            LlmRequest g93 = p.gen.createRequest(93, 1);
            p.ctx.send(holder, p.gen.name());
            p.ctx.send(parked, p.gen.name());
            p.gen.receive(g92, p.ctx.name());
            p.gen.receive(g93, p.ctx.name());
            awaitPhase(holder, TransferPhase.DATA_IN_FLIGHT);
            awaitPhase(parked, TransferPhase.WAITING_FOR_BUFFER);
            assertTrue(p.ctx.cancelRequest(parked));
            TransferOutcome op = outcome(parked);
            assertEquals(Status.CANCELLED, op.status());
            assertEquals(TransferPhase.WAITING_FOR_BUFFER, op.phase());
            assertEquals(Status.CANCELLED, outcome(g93).status(), "the peer hears of it");
            p.ctx.cancelRequest(holder);
            for (LlmRequest r : List.of(holder, parked, g92, g93)) {
                outcome(r);
                r.close();
            }
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f13AnErrorThatIsNotAnExceptionFailsOnlyItsRequest() throws Exception {
        FaultsForTest faults = new FaultsForTest();
        faults.throwErrorForRequest = 95;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults(), CacheTransceiverConfig.defaults().withFaults(faults), 64)) {
            LlmRequest g95 = p.gen.createRequest(95, 1);
            p.gen.receive(g95, p.ctx.name());
            TransferOutcome o = outcome(g95);
            assertEquals(Status.FAILED, o.status());
            assertTrue(o.cause() instanceof StackOverflowError, String.valueOf(o.cause()));
            LlmRequest c = p.filledContextRequest(96, 1, new Random(17));
            LlmRequest g = p.gen.createRequest(96, 1);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            assertEquals(Status.COMPLETED, outcome(g).status(), "the same engine serves the next request");
            for (LlmRequest r : List.of(g95, c, g)) {
                r.close();
            }
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void f15AResponseCancelledBeforeThePeerAskedAnswersTheLaterAskInsteadOfLeavingItHanging() throws Exception {
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)))) {
            LlmRequest c = p.filledContextRequest(97, 1, new Random(18));
            p.ctx.send(c, p.gen.name());
            awaitPhase(c, TransferPhase.WAITING_FOR_REQUEST_INFO);
            p.ctx.cancelRequest(c);
            assertEquals(Status.CANCELLED, outcome(c).status());
            LlmRequest g = p.gen.createRequest(97, 1); // the generation side asks only now
            p.gen.receive(g, p.ctx.name());
            TransferOutcome og = g.outcome().get(10, TimeUnit.SECONDS); // well before its 30 s deadline
            assertEquals(Status.CANCELLED, og.status());
            assertTrue(og.detail().contains("by peer"), og.detail());
            c.close();
            g.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void configRejectsBadValuesNamingTheField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ZERO));
        assertTrue(e.getMessage().contains("kvTransferTimeout"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CacheTransceiverConfig.defaults().withBufferCounts(0, 1));
        assertTrue(e.getMessage().contains("sendBufferCount"));
        e = assertThrows(IllegalArgumentException.class, () -> CacheTransceiverConfig.defaults().withQuarantineTimeout(Duration.ofMillis(-1)));
        assertTrue(e.getMessage().contains("quarantineTimeout"));
        e = assertThrows(IllegalArgumentException.class, () -> TransceiverLimits.defaults().withMaxPeers(0));
        assertTrue(e.getMessage().contains("maxPeers"));
    }

    @Test
    void malformedForgedAndForeignMessagesAreCountedAndDroppedTheEngineKeepsServing() throws Exception {
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults())) {
            byte[] unknownType = new byte[dev.kvx.transceiver.internal.wire.WireCodec.OVERHEAD];
            unknownType[0] = 'K';
            unknownType[1] = 'V';
            unknownType[2] = 'X';
            unknownType[3] = dev.kvx.transceiver.internal.wire.WireCodec.VERSION;
            unknownType[4] = 99;
            p.ctx.sendRawBytesForTest(p.gen.name(), unknownType);
            p.ctx.sendRawBytesForTest(p.gen.name(), new byte[] {'K', 'V', 'X', 2, 2}); // truncated
            p.ctx.sendRawBytesForTest(p.gen.name(), "hello from another library".getBytes()); // foreign: ignored
            p.ctx.sendRawForTest(p.gen.name(), new WireMessage.Released(5, 5)); // authentic but stale: counted
            assertTrue(eventually(() -> p.gen.metrics().snapshot().malformedMessages() == 2), p.describe());
            LlmRequest c = p.filledContextRequest(80, 1, new Random(12));
            LlmRequest g = p.gen.createRequest(80, 1);
            p.ctx.send(c, p.gen.name());
            p.gen.receive(g, p.ctx.name());
            assertEquals(Status.COMPLETED, outcome(g).status());
            assertTrue(eventually(() -> p.gen.metrics().snapshot().staleMessages() >= 1));
            assertEquals(1, p.gen.metrics().snapshot().foreignMessages());
            assertEquals(0, p.gen.metrics().snapshot().engineErrors());
            c.close();
            g.close();
        }
    }
}
