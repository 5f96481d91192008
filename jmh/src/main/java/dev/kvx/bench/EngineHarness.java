package dev.kvx.bench;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferPhase;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Measurements of the transceiver's progress engine that JMH cannot make from the benchmark thread,
 * read from the engine thread itself through {@link com.sun.management.ThreadMXBean}:
 * <ul>
 *   <li>{@code scaling N}: N generation requests in flight (waiting for data that never comes), the
 *       engine's CPU time and allocation per tick, and per request per tick;</li>
 *   <li>{@code idle}: the same with nothing in flight (the allocation of an idle tick must be 0);</li>
 *   <li>{@code lateness}: how late TIMED_OUT outcomes arrive after their deadline, and how long a
 *       cancel takes until the outcome (lease returned), as distributions.</li>
 * </ul>
 * Output lines: {@code name<TAB>param<TAB>value<TAB>unit}, like {@code jmh/c/nixl_baseline.c}.
 * Usage: {@code java ... dev.kvx.bench.EngineHarness [seconds]}.
 */
public final class EngineHarness {
    private static final KvCacheLayout TINY = new KvCacheLayout(1, 1, 1, 64, 2); // 256 B blocks
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static int seq;

    private EngineHarness() {}

    private record Pair(KvBlockPool ctxPool, KvBlockPool genPool, CacheTransceiver ctx, CacheTransceiver gen) implements AutoCloseable {
        static Pair open(int blocks, CacheTransceiverConfig config) {
            int n = ++seq;
            KvBlockPool cp = KvBlockPool.inHostMemory(TINY, blocks, "ctx");
            KvBlockPool gp = KvBlockPool.inHostMemory(TINY, blocks, "gen");
            SharedSecret secret = SharedSecret.generate();
            CacheTransceiver c = CacheTransceiver.builder("h-ctx-" + n, cp).config(config).secret(secret).build();
            CacheTransceiver g = CacheTransceiver.builder("h-gen-" + n, gp).config(config).secret(secret).build();
            c.admit(g.localMetadata(), Duration.ofSeconds(10));
            g.connect(c.localMetadata(), Duration.ofSeconds(10));
            c.awaitConnected(g.name(), Duration.ofSeconds(10));
            return new Pair(cp, gp, c, g);
        }

        @Override
        public void close() {
            ctx.close();
            gen.close();
            ctxPool.close();
            genPool.close();
        }
    }

    private static long engineThreadId(CacheTransceiver t) {
        String name = "kvx-engine-" + t.name();
        return Thread.getAllStackTraces().keySet().stream().filter(th -> th.getName().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no thread " + name)).threadId();
    }

    private static void print(String name, Object param, double value, String unit) {
        System.out.printf(Locale.ROOT, "%s\t%s\t%.3f\t%s%n", name, param, value, unit);
    }

    private static void scaling(int n, double seconds) throws Exception {
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofMinutes(10))
                .withBufferCounts(1, Math.max(1, n));
        try (Pair p = Pair.open(n + 1, config)) {
            List<LlmRequest> reqs = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                LlmRequest r = p.gen().createRequest(i + 1, 1);
                p.gen().receive(r, p.ctx().name());
                reqs.add(r);
            }
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (reqs.stream().anyMatch(r -> r.phase() != TransferPhase.WAITING_FOR_DATA) && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            long tid = engineThreadId(p.gen());
            Thread.sleep(1500); // the context side settles its request infos; the engine code gets compiled
            long cpu0 = THREADS.getThreadCpuTime(tid);
            long alloc0 = THREADS.getThreadAllocatedBytes(tid);
            long ticks0 = p.gen().metrics().snapshot().ticks();
            long t0 = System.nanoTime();
            Thread.sleep((long) (seconds * 1000));
            long cpu = THREADS.getThreadCpuTime(tid) - cpu0;
            long alloc = THREADS.getThreadAllocatedBytes(tid) - alloc0;
            long ticks = p.gen().metrics().snapshot().ticks() - ticks0;
            double wall = (System.nanoTime() - t0) / 1e9;
            String param = String.valueOf(n);
            print("engine_ticks_per_s", param, ticks / wall, "ticks/s");
            print("engine_cpu_per_tick", param, (double) cpu / ticks, "ns");
            print("engine_alloc_per_tick", param, (double) alloc / ticks, "B");
            if (n > 0) {
                print("engine_cpu_per_request_tick", param, (double) cpu / ticks / n, "ns");
            }
            for (LlmRequest r : reqs) {
                p.gen().cancelRequest(r);
            }
            for (LlmRequest r : reqs) {
                r.outcome().get(30, TimeUnit.SECONDS);
                r.close();
            }
        }
    }

    private static void percentiles(String name, List<Long> nanos) {
        long[] s = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
        print(name, "p50", s[s.length / 2] / 1e6, "ms");
        print(name, "p99", s[(int) Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)] / 1e6, "ms");
        print(name, "max", s[s.length - 1] / 1e6, "ms");
    }

    private static void lateness(int count) throws Exception {
        Duration timeout = Duration.ofMillis(200);
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults().withKvTransferTimeout(timeout).withBufferCounts(4, count);
        List<Long> late = new ArrayList<>();
        try (Pair p = Pair.open(count + 1, config)) {
            List<LlmRequest> waiting = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                LlmRequest g = p.gen().createRequest(i + 1, 1);
                p.gen().receive(g, p.ctx().name());
                waiting.add(g);
                Thread.sleep(1); // staggered deadlines
            }
            for (LlmRequest g : waiting) {
                TransferOutcome o = g.outcome().get(30, TimeUnit.SECONDS);
                if (o.status() != TransferOutcome.Status.TIMED_OUT) {
                    throw new IllegalStateException("expected TIMED_OUT, got " + o);
                }
                late.add(o.latencyNanos() - timeout.toNanos());
                g.close();
            }
        }
        List<Long> cancel = new ArrayList<>();
        CacheTransceiverConfig slow = CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofSeconds(30)).withBufferCounts(4, 4);
        try (Pair p = Pair.open(16, slow)) {
            for (int i = 0; i < count; i++) {
                LlmRequest g = p.gen().createRequest(10_000 + i, 1);
                p.gen().receive(g, p.ctx().name());
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (g.phase() != TransferPhase.WAITING_FOR_DATA && System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                CompletableFuture<Long> done = g.outcome().thenApply(o -> System.nanoTime());
                long t0 = System.nanoTime();
                p.gen().cancelRequest(g);
                cancel.add(done.get(30, TimeUnit.SECONDS) - t0);
                g.close();
                while (p.genPool().freeBlocks() < 16 && System.nanoTime() < until) {
                    Thread.sleep(1); // the peer's Released returns the quarantined block
                }
            }
        }
        percentiles("deadline_lateness", late);
        percentiles("cancel_to_outcome", cancel);
    }

    /** Runs every measurement; the optional argument is the seconds per scaling point (2). */
    public static void main(String[] args) throws Exception {
        if (System.getProperty("kvx.native.dir") == null) {
            System.setProperty("kvx.native.dir", System.getenv().getOrDefault("KVX_NATIVE_DIR", ".native"));
        }
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        int[] points = args.length > 1 ? Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {0, 1, 100, 1000, 10000};
        scaling(points[0], 0.5); // warm-up of the engine's code
        for (int n : points) {
            scaling(n, seconds);
        }
        lateness(200);
        System.exit(0);
    }
}
