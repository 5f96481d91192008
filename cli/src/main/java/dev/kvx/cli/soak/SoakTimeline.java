package dev.kvx.cli.soak;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The soak's per-second view: each second it counts the outcomes so far, takes the latency
 * distribution of the requests that completed in that second (an HdrHistogram {@link Recorder}
 * interval), the faults injected into the requests submitted in it, and the workers' gauges; it prints
 * the progress line and keeps the sample for the report. Events (phase starts, kills) carry their time.
 */
final class SoakTimeline {
    /** Latencies are recorded in nanoseconds with 3 significant digits, up to an hour. */
    static final long HIGHEST_NANOS = TimeUnit.HOURS.toNanos(1);

    /**
     * What the driver reports to the timeline each second: the context and generation workers' gauges
     * (summed over the workers of a side across hosts; {@code slotCapacity} is the side's staging slots).
     */
    record Gauges(String phase, Map<String, Long> ctx, Map<String, Long> gen) {}

    private final SoakOptions o;
    private final PrintWriter out;
    private final long t0;
    private final Recorder completedLatency = new Recorder(HIGHEST_NANOS, 3);
    private final Map<String, LongAdder> faultsThisSecond = new ConcurrentHashMap<>();
    private final List<ReportDocument.Sample> samples = Collections.synchronizedList(new ArrayList<>());
    private final List<ReportDocument.Event> events = Collections.synchronizedList(new ArrayList<>());
    private long lastCompleted;
    private long lastBytes;

    SoakTimeline(SoakOptions o, PrintWriter out, long t0) {
        this.o = o;
        this.out = out;
        this.t0 = t0;
    }

    double elapsed() {
        return (System.nanoTime() - t0) / 1e9;
    }

    /** A System.nanoTime instant on the timeline's clock: seconds since the start, to a tenth. */
    double at(long nanos) {
        return Math.round((nanos - t0) / 1e8) / 10.0;
    }

    /** A request completed (generation side) with this latency. */
    void completed(long latencyNanos) {
        completedLatency.recordValue(Math.min(HIGHEST_NANOS, Math.max(0, latencyNanos)));
    }

    /** A request was submitted that these faults will hit. */
    void injected(Collection<String> kinds) {
        kinds.forEach(k -> faultsThisSecond.computeIfAbsent(k, x -> new LongAdder()).increment());
    }

    /** Something happened now: a phase starts ({@code phase}), a worker is killed ({@code kill}) or replaced ({@code restart}). */
    void event(String kind, String text) {
        events.add(new ReportDocument.Event(Math.round(elapsed() * 10) / 10.0, kind, text));
    }

    List<ReportDocument.Event> events() {
        return List.copyOf(events);
    }

    List<ReportDocument.Sample> samples() {
        return List.copyOf(samples);
    }

    /** Takes one sample every second until interrupted. */
    void run(Collection<SoakRequest> requests, Supplier<Gauges> gauges) {
        try {
            while (true) {
                Thread.sleep(1000);
                sample(requests, gauges.get());
            }
        } catch (InterruptedException e) {
            // run over
        }
    }

    private void sample(Collection<SoakRequest> requests, Gauges g) {
        long completed = 0;
        long timedOut = 0;
        long cancelled = 0;
        long failed = 0;
        long other = 0;
        long bytes = 0;
        long inFlight = 0;
        for (SoakRequest r : requests) {
            if (!r.done()) {
                inFlight++;
            }
            switch (r.outcome()) {
                case "COMPLETED" -> {
                    completed++;
                    bytes += r.blocks * o.blockBytes();
                }
                case "TIMED_OUT" -> timedOut++;
                case "CANCELLED" -> cancelled++;
                case "FAILED" -> failed++;
                case "NONE" -> { }
                default -> other++;
            }
        }
        Map<String, Long> faults = new TreeMap<>();
        faultsThisSecond.forEach((k, v) -> faults.put(k, v.sumThenReset()));
        faults.values().removeIf(v -> v == 0);
        ReportDocument.Percentiles latency = percentiles(completedLatency.getIntervalHistogram());
        Map<String, Long> cs = g.ctx();
        Map<String, Long> gs = g.gen();
        samples.add(new ReportDocument.Sample(Math.round(elapsed() * 10) / 10.0, g.phase(), inFlight, completed, timedOut, cancelled, failed,
                other, latency, faults, cs.getOrDefault("slots", 0L), gs.getOrDefault("slots", 0L), cs.getOrDefault("freeBlocks", 0L),
                gs.getOrDefault("freeBlocks", 0L), cs.getOrDefault("capacity", 0L)));
        out.printf(Locale.ROOT, "[%5.1f s %-7s] in flight %3d | completed %6d | timed out %4d | cancelled %4d | failed %4d | other %3d"
                        + " | slots ctx %d/%d gen %d/%d | free blocks ctx %d gen %d /%d | %5.0f req/s %6.3f GB/s | p99 %6.1f ms%n",
                elapsed(), g.phase(), inFlight, completed, timedOut, cancelled, failed, other, cs.getOrDefault("slots", 0L),
                cs.getOrDefault("slotCapacity", (long) o.buffers), gs.getOrDefault("slots", 0L), gs.getOrDefault("slotCapacity", (long) o.buffers), cs.getOrDefault("freeBlocks", 0L), gs.getOrDefault("freeBlocks", 0L),
                cs.getOrDefault("capacity", 0L), (double) (completed - lastCompleted), (bytes - lastBytes) / 1e9, latency.p99());
        lastCompleted = completed;
        lastBytes = bytes;
    }

    /** p50 / p99 / max in milliseconds of a histogram of nanoseconds. */
    static ReportDocument.Percentiles percentiles(Histogram h) {
        if (h.getTotalCount() == 0) {
            return ReportDocument.Percentiles.NONE;
        }
        return new ReportDocument.Percentiles(h.getTotalCount(), ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(99)),
                ms(h.getMaxValue()));
    }

    private static double ms(long nanos) {
        return Math.round(nanos / 1e3) / 1e3;
    }
}
