package dev.kvx.transceiver;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.kv.KvBlockPool;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@link CacheTransceiver.Builder#warmUp(int)} over real NIXL: the twins move their requests and leave
 * nothing behind (no thread, no agent a peer could reach, nothing counted on the real transceiver), and
 * the real transceiver built after them serves as usual, with an engine thread and caller-driven.
 */
class TransceiverWarmupTest {
    private static Set<String> threadNames() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .collect(Collectors.toSet());
    }

    @Test
    void warmUpMovesItsRequestsBetweenTwinsThatAreGoneBeforeTheRealTransceiverServes() throws Exception {
        SharedSecret secret = SharedSecret.generate();
        try (KvBlockPool ctxPool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 16, "w-ctx");
             KvBlockPool genPool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 16, "w-gen")) {
            CacheTransceiver.Builder b = CacheTransceiver.builder("warm-ctx", ctxPool).secret(secret).warmUp(300);
            assertEquals(300, TransceiverWarmup.run(b, 300), "the twins must move every warm-up request");
            assertTrue(threadNames().stream().noneMatch(n -> n.contains("kvx-warmup-")),
                    () -> "a twin's thread outlived the warm-up: " + threadNames());
            try (CacheTransceiver ctx = b.build();
                 CacheTransceiver gen = CacheTransceiver.builder("warm-gen", genPool).secret(secret).warmUp(50).build()) {
                assertTrue(threadNames().stream().noneMatch(n -> n.contains("kvx-warmup-")), () -> threadNames().toString());
                TransceiverMetrics.Snapshot before = ctx.metrics().snapshot();
                assertEquals(0, before.submitted(), "warm-up requests must not count on the real transceiver");
                assertEquals(0, before.handshakes(), "the twins never met the real transceiver");
                assertEquals(16, ctxPool.freeBlocks(), "the real pool is untouched by the warm-up");
                TransceiverPair.connect(gen, ctx);
                moveOne(ctx, gen, 7);
            }
        }
    }

    @Test
    void aCallerDrivenBuildWarmsUpWithCallerDrivenTwinsAndServesByPoll() throws Exception {
        SharedSecret secret = SharedSecret.generate();
        try (KvBlockPool ctxPool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 16, "wp-ctx");
             KvBlockPool genPool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 16, "wp-gen");
             CacheTransceiver ctx = CacheTransceiver.builder("warmp-ctx", ctxPool).secret(secret).callerDriven().warmUp(200).build();
             CacheTransceiver gen = CacheTransceiver.builder("warmp-gen", genPool).secret(secret).build()) {
            assertEquals(0, ctx.metrics().snapshot().submitted());
            Thread poller = Thread.ofPlatform().daemon().start(() -> {
                while (!ctx.isClosed()) {
                    try {
                        ctx.poll();
                    } catch (IllegalStateException busy) {
                        // admit/awaitConnected drive the engine from the test thread for a moment
                    }
                    Thread.onSpinWait();
                }
            });
            try {
                TransceiverPair.connect(gen, ctx);
                moveOne(ctx, gen, 9);
            } finally {
                ctx.close();
                poller.join(10_000);
            }
        }
    }

    @Test
    void badWarmUpCountsAreRefused() {
        try (KvBlockPool pool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 1, "w-bad")) {
            CacheTransceiver.Builder b = CacheTransceiver.builder("w-bad", pool);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.warmUp(-1));
            assertTrue(e.getMessage().contains("warm-up"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> b.warmUp(1_000_001));
        }
    }

    private static void moveOne(CacheTransceiver ctx, CacheTransceiver gen, long id) throws Exception {
        LlmRequest c = ctx.createRequest(id, 3);
        byte[] kv = new byte[(int) TransceiverPair.LAYOUT.blockBytes()];
        new Random(id).nextBytes(kv);
        for (int i = 0; i < 3; i++) {
            ctx.writeBlock(c, i, kv);
        }
        LlmRequest g = gen.createRequest(id, 3);
        ctx.send(c, gen.name());
        gen.receive(g, ctx.name());
        assertTrue(g.outcome().get(30, TimeUnit.SECONDS).isCompleted(), () -> g.outcome().join().toString());
        assertTrue(c.outcome().get(30, TimeUnit.SECONDS).isCompleted());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(kv, gen.readBlock(g, i));
        }
        c.close();
        g.close();
    }
}
