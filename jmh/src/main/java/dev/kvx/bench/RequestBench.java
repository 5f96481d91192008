package dev.kvx.bench;

import dev.kvx.bench.RequestBenchKit.Args;
import dev.kvx.bench.RequestBenchKit.Blocks;
import dev.kvx.bench.RequestBenchKit.Phase;
import dev.kvx.bench.RequestBenchKit.PhaseStats;
import dev.kvx.bench.RequestBenchKit.PoolMemory;
import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.memory.NativeBuffer;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransferMode;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * kvx's side of the request-level benchmark: a prefill (context) or a decode (generation) process
 * moving requests' KV blocks through {@link CacheTransceiver}'s public API only, next to the C
 * program ({@code jmh/c/request_bench.c}) and NIXL's Python API ({@code jmh/python/request_bench.py})
 * doing the same protocol. {@code jmh/request_driver.py} starts the processes and relays the marks;
 * the arguments are the C program's ({@code jmh/c/request_bench_common.h}).
 *
 * <p>This file holds everything kvx-specific (pool, transceiver, connect, requests); the rest is in
 * {@link RequestBenchKit}. Usage: {@code java ... dev.kvx.bench.RequestBench role=decode name=... }
 */
public final class RequestBench {
    private RequestBench() {}

    /** Runs one process of the benchmark. */
    public static void main(String[] argv) throws Exception {
        Args a = Args.parse(argv);
        switch (a.get("role")) {
            case "prefill" -> prefill(a);
            case "decode" -> decode(a);
            default -> RequestBenchKit.die("role must be prefill or decode, got " + a.get("role"));
        }
        System.out.flush();
        System.exit(0); // not halt: a flight recording (-XX:StartFlightRecording) is written at exit
    }

    /** A layout whose block is {@code bytes} long (only the block size matters to the transfer). */
    private static KvCacheLayout layout(long bytes) {
        if (bytes % 4 != 0 || bytes / 4 > Integer.MAX_VALUE) {
            RequestBenchKit.die("block_bytes must be a multiple of 4, got " + bytes);
        }
        return new KvCacheLayout(1, 1, 1, (int) (bytes / 4), 2);
    }

    private static KvBlockPool pool(Args a, String label) {
        KvCacheLayout layout = layout(a.num("block_bytes"));
        int blocks = (int) a.num("pool_blocks");
        if (a.get("mem").equals("vram")) {
            return KvBlockPool.ownedOver(layout, DeviceBuffer.allocate((int) a.num("device"), layout.blockBytes() * blocks, label));
        }
        // huge pages or not: kvx's HostBuffer decides at allocation (-Dkvx.hugePages, set by the driver from hugepages=)
        return KvBlockPool.inHostMemory(layout, blocks, label);
    }

    private static PoolMemory memory(KvBlockPool pool) {
        NativeBuffer region = pool.region();
        MemorySegment host = region instanceof DeviceBuffer ? null
                : MemorySegment.ofAddress(region.address()).reinterpret(region.size());
        return new PoolMemory() {
            @Override
            public MemorySegment host() {
                return host;
            }

            @Override
            public void read(long offset, byte[] dst) {
                region.copyToHost(offset, dst);
            }

            @Override
            public void write(long offset, byte[] src) {
                region.copyFromHost(offset, src);
            }
        };
    }

    private static CacheTransceiverConfig config(Args a, int slots) {
        return CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofMillis(a.num("timeout_ms")))
                .withBufferCounts(slots, slots).withTransferMode(a.opt("mode", "push").equals("pull") ? TransferMode.PULL : TransferMode.PUSH);
    }

    /** A transceiver with the run's secret ({@code KVX_SECRET_FILE}, made by the driver); {@code engine=poll}: caller-driven. */
    private static CacheTransceiver transceiver(Args a, KvBlockPool pool, int slots) {
        CacheTransceiver.Builder b = CacheTransceiver.builder(a.get("name"), pool).config(config(a, slots))
                .secret(SharedSecret.fromConfiguration());
        if (callerDriven(a)) {
            b.callerDriven();
        }
        b.warmUp(Integer.parseInt(a.opt("jit_warmup", "0"))); // kvx-warm: the builder's JIT warm-up (twins in this process)
        long t0 = System.nanoTime();
        CacheTransceiver t = b.build();
        System.err.printf("RequestBench: transceiver %s built in %.0f ms%n", a.get("name"), (System.nanoTime() - t0) / 1e6);
        return t;
    }

    private static boolean callerDriven(Args a) {
        return a.opt("engine", "thread").equals("poll");
    }

    /**
     * Waits for a permit. In caller-driven mode this thread is the engine: it polls (outcomes complete
     * right here) and backs off like the engine thread would when a cycle did nothing.
     */
    private static boolean acquire(CacheTransceiver t, boolean poll, Semaphore permits, int n, long timeoutMs) throws InterruptedException {
        if (!poll) {
            return permits.tryAcquire(n, timeoutMs, TimeUnit.MILLISECONDS);
        }
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        long park = 1_000;
        while (!permits.tryAcquire(n)) {
            if (System.nanoTime() - until > 0) {
                return false;
            }
            if (t.poll() > 0) {
                park = 1_000;
            } else {
                java.util.concurrent.locks.LockSupport.parkNanos(park);
                park = Math.min(park * 2, 50_000);
            }
        }
        return true;
    }

    private static int maxInflight(List<List<Phase>> plans) {
        return plans.stream().flatMap(List::stream).mapToInt(Phase::inflight).max().orElse(1);
    }

    /**
     * Puts the pool's free list in a seeded shuffle (through the public API: one-block requests closed
     * in that order), so that requests get scattered blocks, one descriptor each, as in C and Python.
     */
    private static void scramble(CacheTransceiver t, KvBlockPool pool, long seed) {
        LlmRequest[] all = new LlmRequest[pool.capacity()];
        for (int i = 0; i < all.length; i++) {
            all[i] = t.createRequest(-1 - i, 1);
        }
        for (int i : RequestBenchKit.shuffled(all.length, seed)) {
            all[i].close();
        }
    }

    private static void prefill(Args a) throws Exception {
        List<List<Phase>> plans = a.plans();
        String[] sessions = a.get("sessions").split(",");
        if (sessions.length != plans.size()) {
            RequestBenchKit.die("sessions= names " + sessions.length + " decode processes, plan= has " + plans.size());
        }
        long timeoutMs = a.num("timeout_ms");
        int window = 2 * maxInflight(plans);
        try (KvBlockPool pool = pool(a, "prefill-pool");
             CacheTransceiver ctx = transceiver(a, pool, window)) {
            boolean poll = callerDriven(a);
            new Blocks(memory(pool), a.num("block_bytes"), (int) a.num("verify_every")).fill(pool.capacity());
            RequestBenchKit.publishMetadata(a, ctx.localMetadata());
            scramble(ctx, pool, a.num("seed"));
            Thread marks = RequestBenchKit.startMarkThread();
            for (int s = 0; s < sessions.length; s++) {
                // the decode process connects to us: admit its metadata, tell it so, wait for its session
                String peer = ctx.admit(RequestBenchKit.awaitMetadata(a, sessions[s]), Duration.ofSeconds(60));
                RequestBenchKit.publish(a, sessions[s] + ".admitted", new byte[] {1});
                ctx.awaitConnected(peer, Duration.ofSeconds(60));
                long id = 1;
                for (Phase ph : plans.get(s)) {
                    // sends are submitted ahead of the decode side's request infos, up to twice its in-flight count
                    Semaphore permits = new Semaphore(2 * ph.inflight());
                    for (long end = id + ph.warmup() + ph.measured(); id < end; id++) {
                        if (!acquire(ctx, poll, permits, 1, timeoutMs)) {
                            RequestBenchKit.die("no send completed within " + timeoutMs + " ms");
                        }
                        LlmRequest r = ctx.createRequest(id, ph.blocks());
                        ctx.send(r, peer).whenComplete((o, t) -> {
                            if (o == null || !o.isCompleted()) {
                                RequestBenchKit.die("send of request " + r.id() + ": " + (o != null ? o.status() + " " + o.detail() : t));
                            }
                            r.close();
                            permits.release();
                        });
                    }
                    if (!acquire(ctx, poll, permits, 2 * ph.inflight(), timeoutMs)) {
                        RequestBenchKit.die("the last sends of " + ph.label() + " did not complete within " + timeoutMs + " ms");
                    }
                }
                System.out.println("RB\tSESSION_DONE\t" + sessions[s]);
                System.out.flush();
            }
            marks.join(TimeUnit.SECONDS.toMillis(120)); // the last phase's end mark may still be on its way
        }
    }

    private static void decode(Args a) throws Exception {
        long timeoutMs = a.num("timeout_ms");
        List<Phase> plan = a.plans().get(0);
        try (KvBlockPool pool = pool(a, "decode-pool");
             CacheTransceiver gen = transceiver(a, pool, maxInflight(List.of(plan)))) {
            boolean poll = callerDriven(a);
            Blocks blocks = new Blocks(memory(pool), a.num("block_bytes"), (int) a.num("verify_every"));
            RequestBenchKit.publishMetadata(a, gen.localMetadata());
            byte[] peerMd = RequestBenchKit.awaitMetadata(a, a.get("peer"));
            RequestBenchKit.awaitMetadata(a, a.get("name") + ".admitted");
            String peer = gen.connect(peerMd, Duration.ofSeconds(60));
            scramble(gen, pool, a.num("seed"));
            long id = 1;
            for (Phase ph : plan) {
                Semaphore permits = new Semaphore(ph.inflight());
                PhaseStats stats = new PhaseStats(a, ph);
                long first = id;
                for (long end = id + ph.warmup() + ph.measured(); id < end; id++) {
                    if (!acquire(gen, poll, permits, 1, timeoutMs)) {
                        RequestBenchKit.die("no request completed within " + timeoutMs + " ms");
                    }
                    if (id - first == ph.warmup()) {
                        stats.begin();
                    }
                    boolean measured = id - first >= ph.warmup();
                    LlmRequest r = gen.createRequest(id, ph.blocks());
                    int[] ids = r.blockIds();
                    blocks.clear(id, ids);
                    long t0 = System.nanoTime();
                    gen.receive(r, peer).whenComplete((o, t) -> {
                        long t1 = System.nanoTime();
                        if (o == null || !o.isCompleted()) {
                            RequestBenchKit.die("receive of request " + r.id() + ": " + (o != null ? o.status() + " " + o.detail() : t));
                        }
                        blocks.verify(r.id(), ids);
                        if (measured) {
                            stats.add(t1 - t0, t1);
                        }
                        r.close();
                        permits.release();
                    });
                }
                if (!acquire(gen, poll, permits, ph.inflight(), timeoutMs)) {
                    RequestBenchKit.die("the last requests of " + ph.label() + " did not complete within " + timeoutMs + " ms");
                }
                stats.end();
            }
        }
    }
}
