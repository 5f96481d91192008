package dev.kvx.cli.soak;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Waits, bounded, until the load's requests all have their outcomes and the workers' gauges ({@code STAT})
 * say the peers settled: no block waits for a proof (none quarantined) and, before the recovery probes, no
 * peer is held unhealthy. A peer that owes a proof for a faulted request (a late write lands up to
 * 2 x kvTransferTimeout + 0.5 s after it was taken) gets no new work, so a probe sent to it would be refused
 * for a reason the probe is not about; a request still in flight may be one that will put a peer there. The
 * bound is 2 x kvTransferTimeout + 2 s; after it the soak goes ahead and the invariants tell what stayed.
 * Shared by the one-host and the hosts soak ({@link SoakLoad}).
 */
final class SoakSettle {
    /**
     * The outcome of one wait.
     *
     * @param settled whether the gauges said settled within the bound
     * @param waitedNanos how long it waited
     * @param first what kept the peers from being settled at the first look (e.g. {@code unhealthyPeers=1 on gen}); empty if nothing
     * @param pending what still did at the end; empty when settled
     */
    record Result(boolean settled, long waitedNanos, String first, String pending) {
        /** The wait in words, for the timeline and the terminal. */
        String describe(String who) {
            String t = String.format(java.util.Locale.ROOT, "%.1f s", waitedNanos / 1e9);
            if (first.isEmpty()) {
                return who + ": the peers were settled (" + t + " to read fresh gauges)";
            }
            return settled ? who + " waited " + t + " for the peers to settle (at first: " + first + ")"
                    : who + " waited " + t + " and the peers did not settle (" + pending + "); going ahead";
        }
    }

    private SoakSettle() {}

    /** The longest wait: a late write's proof arrives by 2 x timeout + 0.5 s; 1.5 s more for the gauges to say so. */
    static Duration bound(SoakOptions o) {
        return Duration.ofMillis(2 * o.timeoutMs + 2000);
    }

    /**
     * Waits until no request is in flight, no block is quarantined and, with {@code healthy}, no peer is
     * unhealthy on either side.
     *
     * @param gauges the workers' latest gauges (each side summed over its workers)
     * @param inFlight requests without both outcomes
     */
    static Result await(SoakOptions o, Supplier<SoakTimeline.Gauges> gauges, LongSupplier inFlight, boolean healthy)
            throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + bound(o).toNanos();
        Thread.sleep(300); // a fresh STAT from every worker (they report every 250 ms)
        String first = pending(gauges.get(), inFlight.getAsLong(), healthy);
        String pending = first;
        while (!pending.isEmpty() && System.nanoTime() - deadline < 0) {
            Thread.sleep(100);
            pending = pending(gauges.get(), inFlight.getAsLong(), healthy);
        }
        return new Result(pending.isEmpty(), System.nanoTime() - start, first, pending);
    }

    /** What keeps the peers from being settled, or empty. */
    static String pending(SoakTimeline.Gauges g, long inFlight, boolean healthy) {
        StringBuilder s = new StringBuilder(inFlight > 0 ? inFlight + " request(s) in flight" : "");
        for (Map.Entry<String, Map<String, Long>> side : List.of(Map.entry("ctx", g.ctx()), Map.entry("gen", g.gen()))) {
            long quarantined = side.getValue().getOrDefault("quarantined", 0L);
            long unhealthy = side.getValue().getOrDefault("unhealthyPeers", 0L);
            if (quarantined > 0) {
                s.append(s.isEmpty() ? "" : ", ").append("quarantined=").append(quarantined).append(" on ").append(side.getKey());
            }
            if (healthy && unhealthy > 0) {
                s.append(s.isEmpty() ? "" : ", ").append("unhealthyPeers=").append(unhealthy).append(" on ").append(side.getKey());
            }
        }
        return s.toString();
    }
}
