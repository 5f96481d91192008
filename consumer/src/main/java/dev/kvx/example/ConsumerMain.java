package dev.kvx.example;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.micrometer.TransceiverMeterBinder;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransferOutcome;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Moves one request of 8 KV blocks from a context transceiver to a generation transceiver through kvx's
 * public API (control channel on loopback, shared secret), verifies every byte, reads the outcome back
 * from a Micrometer registry, and prints one line {@code consumer: OK ...}. Exit status 0 on success.
 */
public final class ConsumerMain {
    private ConsumerMain() {}

    public static void main(String[] args) throws Exception {
        Module kvx = CacheTransceiver.class.getModule();
        if (!kvx.isNamed() || kvx.isExported("dev.kvx.transceiver.internal.wire")) {
            throw new IllegalStateException("kvx is not a named module with internal packages hidden: " + kvx);
        }
        KvCacheLayout layout = KvCacheLayout.small(4);
        SharedSecret secret = SharedSecret.generate();
        Duration t = Duration.ofSeconds(20);
        try (KvBlockPool ctxPool = KvBlockPool.inHostMemory(layout, 16, "ctx-kv");
             KvBlockPool genPool = KvBlockPool.inHostMemory(layout, 16, "gen-kv");
             CacheTransceiver ctx = CacheTransceiver.builder("consumer-ctx", ctxPool).secret(secret)
                     .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).build();
             CacheTransceiver gen = CacheTransceiver.builder("consumer-gen", genPool).secret(secret).build()) {
            MeterRegistry registry = new SimpleMeterRegistry();
            new TransceiverMeterBinder(gen).bindTo(registry);
            String ctxName = gen.connect(ctx.controlAddress(), t);
            ctx.awaitConnected(gen.name(), t);
            LlmRequest c = ctx.createRequest(1, 8);
            LlmRequest g = gen.createRequest(1, 8);
            byte[][] sent = new byte[8][];
            Random rnd = new Random(7);
            for (int b = 0; b < 8; b++) {
                sent[b] = new byte[(int) layout.blockBytes()];
                rnd.nextBytes(sent[b]);
                ctx.writeBlock(c, b, sent[b]);
            }
            var out = ctx.send(c, gen.name());
            TransferOutcome in = gen.receive(g, ctxName).get(30, TimeUnit.SECONDS);
            if (!in.isCompleted() || !out.get(30, TimeUnit.SECONDS).isCompleted()) {
                throw new IllegalStateException("transfer did not complete: " + in);
            }
            for (int b = 0; b < 8; b++) {
                if (!Arrays.equals(sent[b], gen.readBlock(g, b))) {
                    throw new IllegalStateException("block " + b + " differs");
                }
            }
            c.close();
            g.close();
            double completed = registry.get("kvx.transceiver.requests").tag("outcome", "completed").functionCounter().count();
            if (completed != 1) {
                throw new IllegalStateException("Micrometer counted " + completed + " completed requests, not 1");
            }
            System.out.println("consumer: OK, module " + kvx.getName() + " moved 8 blocks (" + 8 * layout.blockBytes()
                    + " B) from " + ctxName + " to " + gen.name() + ", verified, in " + in.latencyNanos() / 1000 + " us;"
                    + " Micrometer (module " + TransceiverMeterBinder.class.getModule().getName() + ") counted it");
        }
    }
}
