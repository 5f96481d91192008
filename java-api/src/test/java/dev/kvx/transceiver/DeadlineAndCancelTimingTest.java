package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.TransferOutcome.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Measures (and prints) how late TIMED_OUT outcomes arrive after their deadline and how long a
 * cancel takes to release a request, over real NIXL. Performance is measured, not asserted: the
 * assertions are about outcomes only; the figures go to the test output for the report.
 */
class DeadlineAndCancelTimingTest {
    private static String percentiles(List<Long> nanos) {
        long[] s = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
        return String.format(Locale.ROOT, "p50 %.3f ms, p99 %.3f ms, max %.3f ms (n=%d)", s[s.length / 2] / 1e6,
                s[(int) Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)] / 1e6, s[s.length - 1] / 1e6, s.length);
    }

    @Test
    void deadlineLatenessAndCancelToReleaseTimes() throws Exception {
        Duration timeout = Duration.ofMillis(200);
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(timeout).withBufferCounts(4, 64),
                TransceiverPair.quick(timeout).withBufferCounts(4, 64), 512)) {
            // Deadlines: generation requests whose context side never answers.
            List<LlmRequest> waiting = new ArrayList<>();
            for (long id = 1; id <= 100; id++) {
                LlmRequest g = p.gen.createRequest(id, 1);
                p.gen.receive(g, p.ctx.name());
                waiting.add(g);
                Thread.sleep(1); // staggered deadlines
            }
            List<Long> lateness = new ArrayList<>();
            for (LlmRequest g : waiting) {
                TransferOutcome o = g.outcome().get(30, TimeUnit.SECONDS);
                assertEquals(Status.TIMED_OUT, o.status());
                lateness.add(o.latencyNanos() - timeout.toNanos());
                g.close();
            }
            // Cancels: generation requests waiting for data, cancelled one by one.
            List<Long> cancelToRelease = new ArrayList<>();
            try (TransceiverPair q = new TransceiverPair(TransceiverPair.quick(Duration.ofSeconds(30)).withBufferCounts(4, 64),
                    TransceiverPair.quick(Duration.ofSeconds(30)).withBufferCounts(4, 64), 512)) {
                for (long id = 1000; id < 1100; id++) {
                    LlmRequest g = q.gen.createRequest(id, 1);
                    q.gen.receive(g, q.ctx.name());
                    assertTrue(eventually(() -> g.phase() == TransferPhase.WAITING_FOR_DATA));
                    CompletableFuture<Long> released = g.outcome().thenApply(o -> System.nanoTime());
                    long t0 = System.nanoTime();
                    assertTrue(q.gen.cancelRequest(g));
                    cancelToRelease.add(released.get(30, TimeUnit.SECONDS) - t0);
                    assertEquals(Status.CANCELLED, g.outcome().get().status());
                    assertEquals(0, q.gen.metrics().snapshot().recvSlotsInUse(), "lease returned by the time of the outcome");
                    g.close();
                }
                assertTrue(eventually(q::allFree), q.describe());
            }
            System.out.println("deadline lateness (outcome after kvTransferTimeout=" + timeout.toMillis() + " ms): "
                    + percentiles(lateness));
            System.out.println("cancel -> outcome (lease returned; blocks quarantined until the peer confirms): " + percentiles(cancelToRelease));
            assertTrue(eventually(p::allFree), p.describe());
        }
    }
}
