package dev.kvx.micrometer;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransferOutcome;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The meters read a real transceiver pair's figures after real NIXL transfers. */
class TransceiverMeterBinderTest {
    private static final KvCacheLayout LAYOUT = KvCacheLayout.small(4);
    private static final SharedSecret SECRET = SharedSecret.generate();

    @Test
    void metersFollowARealTransferAndATimeout() throws Exception {
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofMillis(400));
        try (KvBlockPool ctxPool = KvBlockPool.inHostMemory(LAYOUT, 16, "ctx-kv");
             KvBlockPool genPool = KvBlockPool.inHostMemory(LAYOUT, 16, "gen-kv");
             CacheTransceiver ctx = CacheTransceiver.builder("meter-ctx", ctxPool).config(config).secret(SECRET).build();
             CacheTransceiver gen = CacheTransceiver.builder("meter-gen", genPool).config(config).secret(SECRET).build()) {
            ctx.admit(gen.localMetadata(), Duration.ofSeconds(10));
            gen.connect(ctx.localMetadata(), Duration.ofSeconds(10));
            ctx.awaitConnected(gen.name(), Duration.ofSeconds(10));
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new TransceiverMeterBinder(ctx).bindTo(registry);
            new TransceiverMeterBinder(gen).bindTo(registry);

            LlmRequest c = ctx.createRequest(1, 3);
            LlmRequest g = gen.createRequest(1, 3);
            byte[] kv = new byte[(int) LAYOUT.blockBytes()];
            Arrays.fill(kv, (byte) 7);
            for (int b = 0; b < 3; b++) {
                ctx.writeBlock(c, b, kv);
            }
            assertEquals(3, registry.get("kvx.transceiver.blocks").tag("transceiver", "meter-gen").tag("state", "allocated").gauge().value());
            var sent = ctx.send(c, gen.name()).toCompletableFuture();
            var received = gen.receive(g, ctx.name()).toCompletableFuture();
            assertEquals(TransferOutcome.Status.COMPLETED, received.get(10, TimeUnit.SECONDS).status());
            assertEquals(TransferOutcome.Status.COMPLETED, sent.get(10, TimeUnit.SECONDS).status());
            assertArrayEquals(kv, gen.readBlock(g, 2));
            c.close();
            g.close();

            // a receive nobody answers times out
            LlmRequest lonely = gen.createRequest(2, 1);
            assertEquals(TransferOutcome.Status.TIMED_OUT,
                    gen.receive(lonely, ctx.name()).toCompletableFuture().get(10, TimeUnit.SECONDS).status());
            lonely.close();

            for (String side : new String[] {"meter-ctx", "meter-gen"}) {
                assertEquals(1, registry.get("kvx.transceiver.requests").tag("transceiver", side).tag("outcome", "completed")
                        .functionCounter().count(), side);
                FunctionTimer t = registry.get("kvx.transceiver.transfer").tag("transceiver", side).functionTimer();
                assertEquals(1, t.count(), side);
                assertTrue(t.totalTime(TimeUnit.NANOSECONDS) > 0, side);
                var timer = registry.get("kvx.transceiver.latency").tag("transceiver", side).timer();
                assertEquals(1, timer.count(), side);
                assertTrue(timer.takeSnapshot().percentileValues().length == 4, side);
                assertEquals(3 * LAYOUT.blockBytes(), registry.get("kvx.transceiver.bytes").tag("transceiver", side)
                        .functionCounter().count(), side);
            }
            assertEquals(2, registry.get("kvx.transceiver.requests.submitted").tag("transceiver", "meter-gen").functionCounter().count());
            assertEquals(1, registry.get("kvx.transceiver.requests").tag("transceiver", "meter-gen").tag("outcome", "timed_out")
                    .functionCounter().count());
            assertEquals(0, registry.get("kvx.transceiver.requests.in.flight").tag("transceiver", "meter-gen").gauge().value());
            assertTrue(registry.get("kvx.transceiver.deadline.lateness.max").tag("transceiver", "meter-gen").gauge().value() >= 0);
            // the lonely receive's block may sit in quarantine a moment; the completed request's are free again
            assertEquals(16, registry.get("kvx.transceiver.blocks").tag("transceiver", "meter-ctx").tag("state", "free").gauge().value());
            assertEquals(0, registry.get("kvx.transceiver.slots.in.use").tag("transceiver", "meter-ctx").tag("side", "send").gauge().value());
            assertEquals(0, registry.get("kvx.transceiver.errors").tag("transceiver", "meter-ctx").tag("where", "engine")
                    .functionCounter().count());
        }
    }
}
