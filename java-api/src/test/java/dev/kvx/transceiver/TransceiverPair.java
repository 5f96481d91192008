package dev.kvx.transceiver;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A context and a generation transceiver in this JVM, over real NIXL (UCX), sharing a secret; the
 * generation side connects to the context side (the context side admitted its metadata first).
 */
final class TransceiverPair implements AutoCloseable {
    static final KvCacheLayout LAYOUT = new KvCacheLayout(4, 2, 2, 64, 2); // 4 KiB blocks
    static final Duration CONNECT = Duration.ofSeconds(20);
    private static final AtomicInteger SEQ = new AtomicInteger();
    final SharedSecret secret = SharedSecret.generate();
    final CacheTransceiver ctx;
    final CacheTransceiver gen;
    final KvBlockPool ctxPool;
    final KvBlockPool genPool;
    final ReferenceTransceiver ctxRef;
    final ReferenceTransceiver genRef;

    TransceiverPair(CacheTransceiverConfig ctxConfig, CacheTransceiverConfig genConfig, int blocks) {
        int n = SEQ.incrementAndGet();
        ctxPool = pool(blocks, "ctx-pool");
        genPool = pool(blocks, "gen-pool");
        ctx = CacheTransceiver.builder("ctx-" + n, ctxPool).config(ctxConfig).secret(secret).build();
        gen = CacheTransceiver.builder("gen-" + n, genPool).config(genConfig).secret(secret).build();
        connect(gen, ctx);
        ctxRef = new ReferenceTransceiver(ctx, gen.name());
        genRef = new ReferenceTransceiver(gen, ctx.name());
    }

    /** {@code initiator} connects to {@code acceptor}, which admits its metadata first. */
    static void connect(CacheTransceiver initiator, CacheTransceiver acceptor) {
        acceptor.admit(initiator.localMetadata(), CONNECT);
        initiator.connect(acceptor.localMetadata(), CONNECT);
        acceptor.awaitConnected(initiator.name(), CONNECT); // up once the initiator's Confirm arrived
    }

    /**
     * Host memory, or GPU 0's memory when the tests run with {@code -Dkvx.test.memory=vram}
     * (ci/device-test.sh runs the failure-mode suite both ways; ci/device-two-gpu.sh with the generation
     * side's pool on GPU 1: {@code -Dkvx.test.genDevice=1}).
     */
    static KvBlockPool pool(int blocks, String label) {
        if ("vram".equals(System.getProperty("kvx.test.memory"))) {
            return KvBlockPool.ownedOver(LAYOUT, dev.kvx.cuda.DeviceBuffer.allocate(TwoProcessWorkload.deviceFor(label),
                    LAYOUT.blockBytes() * blocks, label));
        }
        return KvBlockPool.inHostMemory(LAYOUT, blocks, label);
    }

    TransceiverPair(CacheTransceiverConfig config) {
        this(config, config, 256);
    }

    static CacheTransceiverConfig quick(Duration timeout) {
        return CacheTransceiverConfig.defaults().withKvTransferTimeout(timeout);
    }

    /** A context request with random KV in its blocks. */
    LlmRequest filledContextRequest(long id, int blocks, Random rnd) {
        LlmRequest r = ctx.createRequest(id, blocks);
        for (int i = 0; i < blocks; i++) {
            byte[] kv = new byte[(int) LAYOUT.blockBytes()];
            rnd.nextBytes(kv);
            ctx.writeBlock(r, i, kv);
        }
        return r;
    }

    /** Waits (bounded) until the condition holds; for state that settles after outcomes (quarantine release). */
    static boolean eventually(BooleanSupplier cond) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            if (cond.getAsBoolean()) {
                return true;
            }
            Thread.sleep(5);
        }
        return cond.getAsBoolean();
    }

    /** Both sides idle with every slot and block free. */
    boolean allFree() {
        TransceiverMetrics.Snapshot c = ctx.metrics().snapshot();
        TransceiverMetrics.Snapshot g = gen.metrics().snapshot();
        return c.sendSlotsInUse() == 0 && c.recvSlotsInUse() == 0 && g.sendSlotsInUse() == 0 && g.recvSlotsInUse() == 0
                && c.freeBlocks() == ctxPool.capacity() && g.freeBlocks() == genPool.capacity();
    }

    String describe() {
        return "ctx " + ctx.metrics().snapshot() + "\ngen " + gen.metrics().snapshot();
    }

    @Override
    public void close() {
        ctx.close();
        gen.close();
        ctxPool.close();
        genPool.close();
    }
}
