package dev.kvx.cli.soak;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The soak's load, as a serving front end makes it: warm-up at low concurrency, a burst at high
 * concurrency, an idle pause, then sequential recovery probes (which carry no injected faults), and
 * finally waiting until every request has both its outcomes. Request sizes are drawn from an
 * exponential distribution of input lengths. Where requests go is the driver's business ({@link Front}).
 */
final class SoakLoad {
    /** The driver's side of the load. */
    interface Front {
        /** Submits one request to a context and a generation worker; null if no pair of workers can take it now. */
        SoakRequest submit(long id, int blocks, SoakPhase phase) throws Exception;

        /** Called between submissions with the time since the load started: faults and kills happen here. */
        void tick(long sinceLoadStartNanos) throws Exception;

        /** Whether the front end takes new requests now (false while it backs off after a rejection). */
        boolean admitting();

        /** The current phase started (its event is on the timeline): a hostile peer starts or stops here. */
        void phase(SoakPhase phase) throws Exception;

        /** The workers' latest gauges, each side summed over its live workers. */
        SoakTimeline.Gauges gauges();

        /**
         * Called before the recovery probes: a front end with faults still in effect waits for them to end. Then
         * the load waits (bounded, {@link SoakSettle}) until no peer is unhealthy and no block waits for a proof.
         */
        default void beforeProbes() throws Exception {
        }
    }

    private final SoakOptions o;
    private final java.io.PrintWriter out;
    private final SoakTimeline timeline;
    private final Map<Long, SoakRequest> requests;
    private final Map<SoakPhase, long[]> windows = new LinkedHashMap<>();

    SoakLoad(SoakOptions o, java.io.PrintWriter out, SoakTimeline timeline, Map<Long, SoakRequest> requests) {
        this.o = o;
        this.out = out;
        this.timeline = timeline;
        this.requests = requests;
    }

    /** Runs every phase; returns each phase's start and end (System.nanoTime). */
    Map<SoakPhase, long[]> run(Front front) throws Exception {
        SplittableRandom rnd = new SplittableRandom(o.seed);
        long nextId = 1;
        long loadStart = System.nanoTime();
        for (SoakPhase p : SoakPhase.values()) {
            if (p == SoakPhase.PROBES) {
                front.beforeProbes();
                SoakSettle.Result settled = SoakSettle.await(o, front::gauges, this::inFlight, true);
                timeline.event("settle", settled.describe("before the probes"));
                if (!settled.settled()) {
                    out.printf(java.util.Locale.ROOT, "!! %.1f s: %s%n", timeline.elapsed(), settled.describe("before the probes"));
                }
            }
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(switch (p) {
                case WARMUP -> o.warmupSeconds;
                case BURST -> o.burstSeconds;
                case IDLE -> o.idleSeconds;
                case PROBES -> 0;
            });
            timeline.event("phase", p + " starts");
            front.phase(p);
            if (p == SoakPhase.PROBES) {
                for (int i = 0; i < o.probes; i++) {
                    // probes prove the system serves again, so they carry no injected faults
                    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(o.timeoutMs * 3);
                    SoakRequest r = null;
                    while (r == null && System.nanoTime() < deadline) {
                        front.tick(System.nanoTime() - loadStart);
                        r = front.submit(SoakFaults.PROBE_ID_BASE + i, blocksFor(rnd), p);
                        if (r == null) {
                            Thread.sleep(10); // no pair of workers is up right now (a host coming back)
                        }
                    }
                    if (r != null) {
                        waitDone(List.of(r), deadline - System.nanoTime());
                    }
                }
            } else {
                int concurrency = p == SoakPhase.WARMUP ? o.warmupConcurrency : p == SoakPhase.BURST ? o.burstConcurrency : 0;
                while (System.nanoTime() < end) {
                    front.tick(System.nanoTime() - loadStart);
                    if (inFlight() < concurrency && front.admitting() && front.submit(nextId, blocksFor(rnd), p) != null) {
                        nextId++;
                    } else {
                        Thread.sleep(1);
                    }
                }
            }
            windows.put(p, new long[] {start, System.nanoTime()});
        }
        // Every request must get its outcomes: each side ends every request by its deadline (plus quarantine).
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(o.timeoutMs * 4) + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end && requests.values().stream().anyMatch(r -> !r.done())) {
            front.tick(System.nanoTime() - loadStart);
            Thread.sleep(10);
        }
        // blocks a peer abandoned mid-transfer stay quarantined until the mover proves the transfer over (a late
        // write, a cut link delay that proof): wait for those proofs, bounded, so what is quarantined at exit is a leak
        SoakSettle.await(o, front::gauges, this::inFlight, false);
        Thread.sleep(600); // one more STAT from each worker after the last outcome
        return windows;
    }

    private int blocksFor(SplittableRandom rnd) {
        double tokens = -Math.log(1 - rnd.nextDouble()) * o.meanInputTokens;
        int t = (int) Math.max(1, Math.min(o.maxInputTokens, Math.round(tokens)));
        return (t + o.tokensPerBlock - 1) / o.tokensPerBlock;
    }

    private long inFlight() {
        return requests.values().stream().filter(r -> !r.done()).count();
    }

    private static void waitDone(List<SoakRequest> rs, long timeoutNanos) throws InterruptedException {
        long end = System.nanoTime() + timeoutNanos;
        while (System.nanoTime() < end && rs.stream().anyMatch(r -> !r.done())) {
            Thread.sleep(10);
        }
    }
}
