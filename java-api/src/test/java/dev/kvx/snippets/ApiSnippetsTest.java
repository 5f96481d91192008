package dev.kvx.snippets;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.nixl.Notification;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransferFuture;
import dev.kvx.transceiver.TransferOutcome;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The javadoc's examples run against the real NIXL library. */
class ApiSnippetsTest {
    @Test
    void transferExampleMovesBytesAndNotifies() throws Exception {
        List<Notification> n = ApiSnippets.transfer(4096);
        assertEquals(1, n.size());
        assertTrue(n.get(0).matches("done".getBytes()));
    }

    @Test
    void memoryPoolAndCudaExamplesRun() {
        assertNotEquals(0, ApiSnippets.hostBuffer());
        assertEquals(64, ApiSnippets.pool());
        assertFalse(ApiSnippets.devices().isEmpty());
    }

    @Test
    void builderAndDrainExamplesMoveARequestAndShutDownClean() throws Exception {
        SharedSecret secret = SharedSecret.generate();
        KvCacheLayout layout = KvCacheLayout.small(4);
        try (ExecutorService callbacks = Executors.newVirtualThreadPerTaskExecutor();
             KvBlockPool ctxPool = KvBlockPool.inHostMemory(layout, 8, "snippet-ctx");
             KvBlockPool genPool = KvBlockPool.inHostMemory(layout, 8, "snippet-gen");
             CacheTransceiver ctx = ApiSnippets.builder("snippet-ctx", ctxPool, secret, callbacks);
             CacheTransceiver gen = ApiSnippets.builder("snippet-gen", genPool, secret, callbacks)) {
            String ctxName = gen.connect(ctx.controlAddress(), Duration.ofSeconds(20));
            ctx.awaitConnected(gen.name(), Duration.ofSeconds(20));
            try (LlmRequest c = ctx.createRequest(1, 2); LlmRequest g = gen.createRequest(1, 2)) {
                TransferFuture sent = ctx.send(c, gen.name());
                TransferOutcome received = gen.receive(g, ctxName).get(30, TimeUnit.SECONDS);
                assertTrue(received.isCompleted(), received.toString());
                assertTrue(sent.get(30, TimeUnit.SECONDS).isCompleted());
            }
            assertTrue(ApiSnippets.drainForRestart(gen), "nothing live or quarantined: drained clean");
            assertTrue(ApiSnippets.drainForRestart(ctx));
            assertTrue(gen.isClosed() && ctx.isClosed(), "drain closes");
            assertEquals(8, genPool.freeBlocks(), "every block back in the pool");
        }
    }
}
