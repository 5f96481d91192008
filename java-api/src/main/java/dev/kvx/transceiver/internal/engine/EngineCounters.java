package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.TransferOutcome;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The engine's counters: written by the engine thread, read by anyone (metrics snapshots, Micrometer,
 * the soak). Completed-request latencies go into an HdrHistogram (1 µs to 1 h, 3 significant digits)
 * that readers copy.
 */
public final class EngineCounters {
    public final AtomicLong submitted = new AtomicLong();
    public final AtomicLong completed = new AtomicLong();
    public final AtomicLong timedOut = new AtomicLong();
    public final AtomicLong cancelled = new AtomicLong();
    public final AtomicLong failed = new AtomicLong();
    public final AtomicLong requestErrors = new AtomicLong();
    public final AtomicLong engineErrors = new AtomicLong();
    public final AtomicLong malformedMessages = new AtomicLong();
    public final AtomicLong foreignMessages = new AtomicLong();
    public final AtomicLong staleMessages = new AtomicLong();
    public final AtomicLong droppedByFault = new AtomicLong();
    public final AtomicLong refusedAuth = new AtomicLong();
    public final AtomicLong refusedUnknownSession = new AtomicLong();
    public final AtomicLong refusedReplay = new AtomicLong();
    public final AtomicLong refusedOversize = new AtomicLong();
    public final AtomicLong refusedPendingCap = new AtomicLong();
    public final AtomicLong refusedPeerCap = new AtomicLong();
    public final AtomicLong refusedHandshakes = new AtomicLong();
    public final AtomicLong handshakes = new AtomicLong();
    public final AtomicLong peersLost = new AtomicLong();
    public final AtomicLong peersMarkedUnhealthy = new AtomicLong();
    public final AtomicLong peersEvicted = new AtomicLong();
    public final AtomicLong ticks = new AtomicLong();
    public final AtomicLong maxLatenessNanos = new AtomicLong();
    public final AtomicLong completedLatencyNanos = new AtomicLong();
    public final AtomicLong completedBytes = new AtomicLong();
    public final AtomicLong quarantinesProvenByRelease = new AtomicLong();
    public final AtomicLong quarantinesProvenByPeerLoss = new AtomicLong();
    public final AtomicLong metadataPublishes = new AtomicLong();
    private final ConcurrentHistogram latency = new ConcurrentHistogram(1_000L, 3_600_000_000_000L, 3);

    /** Counts one outcome. */
    public void count(TransferOutcome.Status s, long latencyNanos, long latenessNanos, long bytes) {
        switch (s) {
            case COMPLETED -> {
                completed.incrementAndGet();
                completedLatencyNanos.addAndGet(latencyNanos);
                completedBytes.addAndGet(bytes);
                latency.recordValue(Math.max(1_000L, Math.min(latencyNanos, 3_600_000_000_000L)));
            }
            case TIMED_OUT -> {
                timedOut.incrementAndGet();
                maxLatenessNanos.accumulateAndGet(latenessNanos, Math::max);
            }
            case CANCELLED -> cancelled.incrementAndGet();
            case FAILED -> failed.incrementAndGet();
        }
    }

    /** A copy of the latency distribution of completed requests, in nanoseconds. */
    public Histogram latencyHistogram() {
        return latency.copy();
    }
}
