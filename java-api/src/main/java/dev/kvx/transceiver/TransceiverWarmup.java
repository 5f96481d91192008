package dev.kvx.transceiver;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A builder's warm-up ({@link CacheTransceiver.Builder#warmUp(int)}): before the real transceiver exists,
 * two throwaway transceivers in this process, built like it (engine thread or caller-driven, transfer
 * mode, NIXL agent settings and UCX parameters), move requests between them over real NIXL, so that the
 * JIT compiles kvx's request path before the first real request rather than during the first thousands.
 * They have their own small host-memory pools, a fresh secret, names no peer knows, and no listener or
 * etcd; both are closed before the real one is built. Best effort: a warm-up that fails or runs past its
 * deadline is logged and ends, and the build goes on.
 */
final class TransceiverWarmup {
    private static final System.Logger LOG = System.getLogger(CacheTransceiver.class.getName());
    private static final KvCacheLayout LAYOUT = new KvCacheLayout(4, 2, 2, 64, 2); // 4 KiB blocks
    private static final int BLOCKS_PER_REQUEST = 8;
    private static final int IN_FLIGHT = 4;
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    private static final int BATCH = 500;
    private static final int MIN_REQUESTS = 2_000;
    private static final double QUIET_SHARE = 0.05;

    private TransceiverWarmup() {}

    /** The requests moved, or fewer where it stopped early (logged). */
    static int run(CacheTransceiver.Builder real, int requests) {
        long t0 = System.nanoTime();
        String tag = "kvx-warmup-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16) + "-";
        SharedSecret secret = SharedSecret.generate();
        CacheTransceiverConfig cfg = CacheTransceiverConfig.defaults().withTransferMode(real.config.transferMode())
                .withBufferCounts(IN_FLIGHT, IN_FLIGHT);
        int done = 0;
        try (KvBlockPool ctxPool = KvBlockPool.inHostMemory(LAYOUT, 2 * IN_FLIGHT * BLOCKS_PER_REQUEST, tag + "ctx");
             KvBlockPool genPool = KvBlockPool.inHostMemory(LAYOUT, 2 * IN_FLIGHT * BLOCKS_PER_REQUEST, tag + "gen");
             CacheTransceiver ctx = twin(real, tag + "ctx", ctxPool, cfg, secret);
             CacheTransceiver gen = twin(real, tag + "gen", genPool, cfg, secret)) {
            Duration connect = real.config.handshakeTimeout();
            ctx.admit(gen.localMetadata(), connect);
            if (real.callerDriven) {
                gen.connectAsync(ctx.localMetadata());
                if (!pollUntil(ctx, gen, () -> gen.isConnected(ctx.name()) && ctx.isConnected(gen.name()), connect)) {
                    throw new IllegalStateException("the twins did not connect within " + connect);
                }
            } else {
                gen.connect(ctx.localMetadata(), connect);
                ctx.awaitConnected(gen.name(), connect);
            }
            done = move(real.callerDriven, ctx, gen, requests);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "kvx " + real.name + ": warm-up stopped after " + done + " of " + requests
                    + " requests (the first real requests pay the JIT instead): " + e, e);
            return done;
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        int moved = done;
        LOG.log(System.Logger.Level.INFO, () -> "kvx " + real.name + ": warm-up moved " + moved + " requests in " + ms + " ms");
        return done;
    }

    private static CacheTransceiver twin(CacheTransceiver.Builder real, String name, KvBlockPool pool,
                                         CacheTransceiverConfig cfg, SharedSecret secret) {
        CacheTransceiver.Builder b = CacheTransceiver.builder(name, pool).config(cfg).secret(secret).agentConfig(real.agentConfig);
        if (real.ucxParams != null) {
            b.ucxParams(real.ucxParams);
        }
        if (real.callerDriven) {
            b.callerDriven();
        }
        return b.build();
    }

    /**
     * Moves up to {@code requests} requests, {@link #IN_FLIGHT} at a time, and stops early once the JIT is quiet:
     * after {@link #MIN_REQUESTS}, at the end of a batch of {@link #BATCH} in which it compiled for less than
     * {@link #QUIET_SHARE} of the batch's time (where the JVM reports compilation time). Stops at the first request
     * that does not complete.
     */
    private static int move(boolean poll, CacheTransceiver ctx, CacheTransceiver gen, int requests) {
        long until = System.nanoTime() + DEADLINE.toNanos();
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        boolean watchJit = jit != null && jit.isCompilationTimeMonitoringSupported();
        long batchStart = System.nanoTime();
        long jitAtBatchStart = watchJit ? jit.getTotalCompilationTime() : 0;
        ArrayDeque<LlmRequest[]> live = new ArrayDeque<>();
        int submitted = 0;
        int done = 0;
        while (done < requests) {
            if (watchJit && done > 0 && done % BATCH == 0 && live.isEmpty()) {
                long now = System.nanoTime();
                long jitMs = jit.getTotalCompilationTime() - jitAtBatchStart;
                if (done >= MIN_REQUESTS && jitMs < QUIET_SHARE * TimeUnit.NANOSECONDS.toMillis(now - batchStart)) {
                    break;
                }
                batchStart = now;
                jitAtBatchStart = jit.getTotalCompilationTime();
            }
            while (submitted < requests && live.size() < IN_FLIGHT && (!watchJit || submitted < done - done % BATCH + BATCH)) {
                long id = ++submitted;
                LlmRequest c = ctx.createRequest(id, BLOCKS_PER_REQUEST);
                LlmRequest g = gen.createRequest(id, BLOCKS_PER_REQUEST);
                ctx.send(c, gen.name());
                gen.receive(g, ctx.name());
                live.add(new LlmRequest[] {c, g});
            }
            LlmRequest[] head = live.peek();
            if (!pollUntil(poll ? ctx : null, poll ? gen : null,
                    () -> head[0].outcome().isDone() && head[1].outcome().isDone(), Duration.ofNanos(until - System.nanoTime()))) {
                live.forEach(p -> { p[0].close(); p[1].close(); });
                throw new IllegalStateException("a warm-up request did not end within " + DEADLINE + " in all");
            }
            live.poll();
            head[0].close();
            head[1].close();
            TransferOutcome sent = head[0].outcome().join();
            TransferOutcome got = head[1].outcome().join();
            if (!sent.isCompleted() || !got.isCompleted()) {
                live.forEach(p -> { p[0].close(); p[1].close(); });
                throw new IllegalStateException("a warm-up request ended " + sent.status() + "/" + got.status() + ": " + got.detail());
            }
            done++;
        }
        return done;
    }

    /** Waits for the condition, polling the twins when they are caller-driven (null: engine threads). */
    private static boolean pollUntil(CacheTransceiver a, CacheTransceiver b, java.util.function.BooleanSupplier ready, Duration timeout) {
        long until = System.nanoTime() + Math.max(0, timeout.toNanos());
        long park = 1_000;
        while (!ready.getAsBoolean()) {
            if (System.nanoTime() - until > 0) {
                return false;
            }
            int work = a == null ? 0 : a.poll() + b.poll();
            if (work > 0) {
                park = 1_000;
            } else {
                LockSupport.parkNanos(park);
                park = Math.min(park * 2, a == null ? 20_000 : 50_000);
            }
        }
        return true;
    }
}
