package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.transceiver.TransferOutcome.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Issue 11, items 3–7, over real NIXL: close and drain end every accepted submission exactly once and free
 * everything; callbacks never run on the engine thread and one that blocks delays nobody; the future is
 * the engine's alone to complete and cancel(true) cancels the transfer; extreme durations work; a close
 * whose wait times out never releases anything twice.
 */
class TransceiverLifecycleTest {
    private static TransferOutcome outcome(LlmRequest r) throws Exception {
        return r.outcome().get(30, TimeUnit.SECONDS);
    }

    @Test
    void closeRightAfterSubmissionsEndsEveryAcceptedOneExactlyOnceAndFreesEverything() throws Exception {
        for (int round = 0; round < 10; round++) {
            TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)), TransceiverPair.quick(Duration.ofSeconds(30)), 256);
            List<LlmRequest> accepted = new ArrayList<>();
            AtomicInteger refused = new AtomicInteger();
            CyclicBarrier start = new CyclicBarrier(2);
            Thread submitter = Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    for (long id = 1; id <= 40; id++) {
                        LlmRequest g = p.gen.createRequest(id, 2);
                        try {
                            p.gen.receive(g, p.ctx.name());
                            synchronized (accepted) {
                                accepted.add(g);
                            }
                        } catch (AlreadyClosedException e) {
                            refused.incrementAndGet(); // refused, not accepted: no outcome owed
                            g.close();
                        }
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            start.await();
            Thread.sleep(round % 3); // close while submissions are queued, intaken or announced
            p.gen.close();
            submitter.join();
            synchronized (accepted) {
                for (LlmRequest g : accepted) {
                    TransferOutcome o = g.outcome().get(10, TimeUnit.SECONDS);
                    assertEquals(Status.CANCELLED, o.status(), o.detail());
                    g.close();
                    assertTrue(g.isFreed(), "the native record and its blocks went with the last reference");
                }
            }
            assertTrue(p.gen.isClosed());
            assertEquals(accepted.size(), p.gen.metrics().snapshot().outcomes(), "one outcome per accepted submission");
            assertEquals(p.genPool.capacity(), p.genPool.freeBlocks(), "every block back (the context side proved its attempts over)");
            assertEquals(0, p.gen.metrics().snapshot().recvSlotsInUse());
            p.close();
        }
    }

    @Test
    void concurrentCloseCallsAllReturnAndTheEngineEndsEverythingOnce() throws Exception {
        TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)));
        List<LlmRequest> live = new ArrayList<>();
        for (long id = 1; id <= 20; id++) {
            LlmRequest c = p.filledContextRequest(id, 1, new Random(id));
            p.ctx.send(c, p.gen.name());
            live.add(c);
        }
        int n = 8;
        CyclicBarrier go = new CyclicBarrier(n);
        List<Thread> closers = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < n; i++) {
            closers.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                    p.ctx.close();
                } catch (Throwable t) {
                    failure.set(t);
                }
            }));
        }
        for (Thread t : closers) {
            t.join(30_000);
            assertFalse(t.isAlive(), "a close() call did not return");
        }
        assertNull(failure.get(), () -> "close() threw: " + failure.get());
        assertTrue(p.ctx.isClosed());
        for (LlmRequest c : live) {
            assertEquals(Status.CANCELLED, outcome(c).status());
            c.close();
        }
        assertEquals(20, p.ctx.metrics().snapshot().outcomes());
        assertEquals(0, p.ctx.metrics().snapshot().engineErrors());
        assertEquals(p.ctxPool.capacity(), p.ctxPool.freeBlocks());
        p.close();
    }

    @Test
    void drainTakesNoNewRequestsLetsTheLiveOnesFinishThenCloses() throws Exception {
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)).withBufferCounts(4, 4))) {
            List<LlmRequest> gens = new ArrayList<>();
            for (long id = 1; id <= 4; id++) {
                LlmRequest g = p.gen.createRequest(id, 2);
                p.gen.receive(g, p.ctx.name());
                gens.add(g);
            }
            CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> p.gen.drain(Duration.ofSeconds(20)));
            assertTrue(eventually(() -> {
                LlmRequest late = p.gen.createRequest(99, 1);
                try {
                    p.gen.receive(late, p.ctx.name()); // accepted: drain had not begun yet; take it back
                    p.gen.cancelRequest(late);
                    late.outcome().handle((o, t) -> o).join();
                    return false;
                } catch (IllegalStateException e) {
                    assertTrue(e.getMessage().contains("draining"), e.getMessage());
                    return true;
                } finally {
                    late.close();
                }
            }), "a draining transceiver refuses new requests");
            List<LlmRequest> ctxs = new ArrayList<>();
            for (long id = 1; id <= 4; id++) { // the peer answers only now: the live requests finish normally
                LlmRequest c = p.filledContextRequest(id, 2, new Random(id));
                p.ctx.send(c, p.gen.name());
                ctxs.add(c);
            }
            assertTrue(drained.get(30, TimeUnit.SECONDS), "drain saw everything finish");
            assertTrue(p.gen.isClosed());
            for (int i = 0; i < 4; i++) {
                assertEquals(Status.COMPLETED, outcome(gens.get(i)).status(), "drain let it finish");
                assertEquals(Status.COMPLETED, outcome(ctxs.get(i)).status());
                gens.get(i).close();
                ctxs.get(i).close();
            }
        }
    }

    @Test
    void callbacksNeverRunOnTheEngineAndOneThatBlocksDelaysNoOtherOutcome() throws Exception {
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)).withBufferCounts(2, 2))) {
            LlmRequest c1 = p.filledContextRequest(1, 1, new Random(1));
            LlmRequest g1 = p.gen.createRequest(1, 1);
            LlmRequest g2 = p.gen.createRequest(2, 1);
            AtomicReference<String> callbackThread = new AtomicReference<>();
            CountDownLatch secondSeen = new CountDownLatch(1);
            // a dependent stage of request 1 that waits for request 2's outcome (which comes later)
            CompletableFuture<String> dependent = p.gen.receive(g1, p.ctx.name()).thenApply(o -> {
                callbackThread.set(Thread.currentThread().getName() + (Thread.currentThread().isVirtual() ? " (virtual)" : ""));
                return g2.outcome().join().status() + " after " + o.status();
            });
            p.ctx.send(c1, p.gen.name());
            // not get(): a thread waiting in get() runs pending dependents itself (JDK semantics), and this one blocks
            assertTrue(eventually(() -> g1.outcome().isDone()));
            assertEquals(Status.COMPLETED, g1.outcome().getNow(null).status());
            p.gen.receive(g2, p.ctx.name()).thenRun(secondSeen::countDown);
            LlmRequest c2 = p.filledContextRequest(2, 1, new Random(2));
            p.ctx.send(c2, p.gen.name());
            assertTrue(secondSeen.await(20, TimeUnit.SECONDS), "request 2's outcome arrived while request 1's callback was blocked");
            assertEquals("COMPLETED after COMPLETED", dependent.get(20, TimeUnit.SECONDS));
            assertFalse(callbackThread.get().startsWith("kvx-engine"), "callbacks never run on the engine: " + callbackThread.get());
            for (LlmRequest r : List.of(c1, g1, g2, c2)) {
                r.close();
            }
        }
    }

    @Test
    void closeFromACallbackIsSafeAndDoesNotWaitForItself() throws Exception {
        TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)));
        LlmRequest c = p.filledContextRequest(1, 1, new Random(1));
        LlmRequest g = p.gen.createRequest(1, 1);
        CompletableFuture<Long> closeNanos = p.gen.receive(g, p.ctx.name()).thenApply(o -> {
            long t0 = System.nanoTime();
            p.gen.close();
            return System.nanoTime() - t0;
        });
        p.ctx.send(c, p.gen.name());
        long took = closeNanos.get(30, TimeUnit.SECONDS);
        System.out.printf("close() from an outcome callback returned in %.1f ms%n", took / 1e6);
        assertTrue(took < TimeUnit.SECONDS.toNanos(3), "close() from a callback must not wait for the callback itself (took "
                + took / 1_000_000 + " ms)");
        assertTrue(eventually(p.gen::isClosed));
        c.close();
        g.close();
        p.close();
    }

    @Test
    void theFutureIsTheEnginesAloneAndCancelOnItCancelsTheTransferOnBothSides() throws Exception {
        FaultsForTest lazy = new FaultsForTest();
        lazy.withholdTransfers = true;
        try (TransceiverPair p = new TransceiverPair(CacheTransceiverConfig.defaults().withFaults(lazy), CacheTransceiverConfig.defaults(), 64)) {
            LlmRequest c = p.filledContextRequest(5, 2, new Random(5));
            LlmRequest g = p.gen.createRequest(5, 2);
            TransferFuture sent = p.ctx.send(c, p.gen.name());
            TransferFuture received = p.gen.receive(g, p.ctx.name());
            TransferOutcome fake = new TransferOutcome(5, Status.COMPLETED, TransferPhase.DONE, "forged", 0, null, 1, 0);
            assertThrows(UnsupportedOperationException.class, () -> received.complete(fake));
            assertThrows(UnsupportedOperationException.class, () -> received.completeExceptionally(new RuntimeException()));
            assertThrows(UnsupportedOperationException.class, () -> received.obtrudeValue(fake));
            assertThrows(UnsupportedOperationException.class, () -> received.completeOnTimeout(fake, 1, TimeUnit.MILLISECONDS));
            assertTrue(eventually(() -> g.phase() == TransferPhase.WAITING_FOR_DATA));
            assertTrue(received.cancel(true));
            assertTrue(received.isCancelled());
            assertThrows(CancellationException.class, () -> received.get(1, TimeUnit.SECONDS));
            assertTrue(eventually(() -> g.state() == RequestState.CANCELLED), "the transfer itself was cancelled");
            TransferOutcome oc = sent.get(10, TimeUnit.SECONDS);
            assertEquals(Status.CANCELLED, oc.status(), "the peer heard of it");
            assertTrue(oc.detail().contains("by peer"), oc.detail());
            c.close();
            g.close();
            assertTrue(eventually(p::allFree), p.describe());
        }
    }

    @Test
    void aDeadlineOfAnyLengthIsAcceptedAndNeitherOverflowsNorLeaks() throws Exception {
        for (Duration d : List.of(Duration.ofSeconds(Long.MAX_VALUE), Duration.ofDays(365L * 10_000), Duration.ofNanos(Long.MAX_VALUE))) {
            CacheTransceiverConfig cfg = CacheTransceiverConfig.defaults().withKvTransferTimeout(d);
            long nanos = CacheTransceiverConfig.nanos(cfg.kvTransferTimeout());
            assertTrue(nanos > 0 && nanos <= CacheTransceiverConfig.MAX_NANOS, "saturated, never negative: " + nanos);
            assertTrue(CacheTransceiverConfig.nanos(cfg.quarantineTimeout()) > 0);
            try (TransceiverPair p = new TransceiverPair(cfg, cfg, 64)) {
                LlmRequest c = p.filledContextRequest(1, 2, new Random(1));
                LlmRequest g = p.gen.createRequest(1, 2);
                p.ctx.send(c, p.gen.name());
                assertEquals(Status.COMPLETED, p.gen.receive(g, p.ctx.name()).get(10, TimeUnit.SECONDS).status());
                LlmRequest waiting = p.gen.createRequest(2, 1);
                p.gen.receive(waiting, p.ctx.name());
                assertTrue(p.gen.cancelRequest(waiting));
                assertEquals(Status.CANCELLED, outcome(waiting).status(), "a request that would wait for centuries still cancels");
                for (LlmRequest r : List.of(c, g, waiting)) {
                    r.close();
                }
                assertTrue(eventually(p::allFree), p.describe());
            }
        }
    }

    @Test
    void aCloseWhoseWaitTimesOutNeverReleasesAnythingTwice() throws Exception {
        CountDownLatch stuck = new CountDownLatch(1);
        FaultInjector slowStep = new FaultInjector() {
            @Override
            public void beforeStep(long requestId, TransferPhase phase) {
                if (requestId == 777 && stuck.getCount() > 0) {
                    stuck.countDown();
                    try {
                        Thread.sleep(2_000); // the engine thread is busy past close()'s wait
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        CacheTransceiverConfig gen = TransceiverPair.quick(Duration.ofSeconds(30)).withFaults(slowStep).withCloseTimeout(Duration.ofMillis(200));
        TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)), gen, 64);
        List<LlmRequest> all = new ArrayList<>();
        for (long id : new long[] {775, 776, 777}) {
            LlmRequest g = p.gen.createRequest(id, 2);
            p.gen.receive(g, p.ctx.name());
            all.add(g);
        }
        assertTrue(stuck.await(10, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        p.gen.close(); // waits 200 ms, then returns: the engine is still in its 2 s step
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "close() returned after its wait, not after the engine");
        assertFalse(p.gen.isClosed(), "the engine had not ended yet");
        for (LlmRequest g : all) {
            g.close(); // the caller lets go while the engine still holds the records
        }
        assertTrue(eventually(p.gen::isClosed), "the engine ends by itself");
        for (LlmRequest g : all) {
            assertEquals(Status.CANCELLED, outcome(g).status());
            assertTrue(g.isFreed());
        }
        assertEquals(3, p.gen.metrics().snapshot().outcomes(), "exactly one outcome each");
        assertEquals(0, p.gen.metrics().snapshot().engineErrors(), "no double release (a double free throws)");
        assertEquals(p.genPool.capacity(), p.genPool.freeBlocks());
        p.close();
    }
}
