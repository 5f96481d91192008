package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kvx.cuda.Cuda;
import dev.kvx.cuda.CudaInfo;
import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.transceiver.TransferOutcome.Status;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The transceiver with both KV pools in GPU memory (two agents on one GPU); skipped without a GPU. */
@Tag("gpu")
class VramTransceiverTest {
    @BeforeEach
    void needsGpu() {
        CudaInfo info = Cuda.probe();
        assumeTrue(info.available(), () -> "skipped: " + info.reason());
    }

    private static CacheTransceiver[] pair(KvBlockPool ctxPool, KvBlockPool genPool, CacheTransceiverConfig ctxCfg,
                                           CacheTransceiverConfig genCfg, String tag) {
        SharedSecret secret = SharedSecret.generate();
        CacheTransceiver ctx = CacheTransceiver.builder("vctx-" + tag, ctxPool).config(ctxCfg).secret(secret).build();
        CacheTransceiver gen = CacheTransceiver.builder("vgen-" + tag, genPool).config(genCfg).secret(secret).build();
        TransceiverPair.connect(gen, ctx);
        return new CacheTransceiver[] {ctx, gen};
    }

    @Test
    void vramBlocksMoveWithVerifiedContentsAndEverythingIsReleased() throws Exception {
        int capacity = 64;
        try (KvBlockPool ctxPool = KvBlockPool.ownedOver(TransceiverPair.LAYOUT, DeviceBuffer.allocate(0, TransceiverPair.LAYOUT.blockBytes() * capacity, "vctx"));
             KvBlockPool genPool = KvBlockPool.ownedOver(TransceiverPair.LAYOUT, DeviceBuffer.allocate(0, TransceiverPair.LAYOUT.blockBytes() * capacity, "vgen"))) {
            CacheTransceiver[] p = pair(ctxPool, genPool, CacheTransceiverConfig.defaults(), CacheTransceiverConfig.defaults(), "ok");
            try (CacheTransceiver ctx = p[0]; CacheTransceiver gen = p[1]) {
                Random rnd = new Random(5);
                for (long id = 1; id <= 20; id++) {
                    LlmRequest c = ctx.createRequest(id, 4);
                    byte[][] kv = new byte[4][(int) TransceiverPair.LAYOUT.blockBytes()];
                    for (int b = 0; b < 4; b++) {
                        rnd.nextBytes(kv[b]);
                        ctx.writeBlock(c, b, kv[b]);
                    }
                    LlmRequest g = gen.createRequest(id, 4);
                    ctx.send(c, gen.name());
                    gen.receive(g, ctx.name());
                    assertEquals(Status.COMPLETED, g.outcome().get(30, TimeUnit.SECONDS).status());
                    assertEquals(Status.COMPLETED, c.outcome().get(30, TimeUnit.SECONDS).status());
                    for (int b = 0; b < 4; b++) {
                        assertArrayEquals(kv[b], gen.readBlock(g, b), "request " + id + " block " + b);
                    }
                    c.close();
                    g.close();
                }
                assertTrue(eventually(() -> ctxPool.freeBlocks() == capacity && genPool.freeBlocks() == capacity));
            }
        }
    }

    @Test
    void gpuToHostAndHostToGpuThroughTheTransceiver() throws Exception {
        int capacity = 16;
        for (boolean ctxOnGpu : new boolean[] {true, false}) {
            try (KvBlockPool gpu = KvBlockPool.ownedOver(TransceiverPair.LAYOUT, DeviceBuffer.allocate(0, TransceiverPair.LAYOUT.blockBytes() * capacity, "gpu"));
                 KvBlockPool host = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, capacity, "host")) {
                CacheTransceiver[] p = pair(ctxOnGpu ? gpu : host, ctxOnGpu ? host : gpu, CacheTransceiverConfig.defaults(),
                        CacheTransceiverConfig.defaults(), ctxOnGpu ? "g2h" : "h2g");
                try (CacheTransceiver ctx = p[0]; CacheTransceiver gen = p[1]) {
                    LlmRequest c = ctx.createRequest(1, 3);
                    byte[] kv = new byte[(int) TransceiverPair.LAYOUT.blockBytes()];
                    new Random(ctxOnGpu ? 1 : 2).nextBytes(kv);
                    for (int b = 0; b < 3; b++) {
                        ctx.writeBlock(c, b, kv);
                    }
                    LlmRequest g = gen.createRequest(1, 3);
                    ctx.send(c, gen.name());
                    gen.receive(g, ctx.name());
                    assertEquals(Status.COMPLETED, g.outcome().get(30, TimeUnit.SECONDS).status(), ctxOnGpu ? "GPU -> host" : "host -> GPU");
                    for (int b = 0; b < 3; b++) {
                        assertArrayEquals(kv, gen.readBlock(g, b));
                    }
                    c.outcome().get(30, TimeUnit.SECONDS);
                    c.close();
                    g.close();
                }
            }
        }
    }

    @Test
    void vramReceiverTimesOutQuarantinesItsBlocksAndGetsThemBack() throws Exception {
        FaultsForTest lazyCtx = new FaultsForTest();
        lazyCtx.withholdTransfers = true;
        int capacity = 8;
        Duration shortTimeout = Duration.ofMillis(300);
        try (KvBlockPool ctxPool = KvBlockPool.ownedOver(TransceiverPair.LAYOUT, DeviceBuffer.allocate(0, TransceiverPair.LAYOUT.blockBytes() * capacity, "vctx"));
             KvBlockPool genPool = KvBlockPool.ownedOver(TransceiverPair.LAYOUT, DeviceBuffer.allocate(0, TransceiverPair.LAYOUT.blockBytes() * capacity, "vgen"))) {
            CacheTransceiver[] p = pair(ctxPool, genPool, CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofSeconds(10)).withFaults(lazyCtx),
                    CacheTransceiverConfig.defaults().withKvTransferTimeout(shortTimeout), "timeout");
            try (CacheTransceiver ctx = p[0]; CacheTransceiver gen = p[1]) {
                LlmRequest c = ctx.createRequest(1, 2);
                LlmRequest g = gen.createRequest(1, 2);
                ctx.send(c, gen.name());
                gen.receive(g, ctx.name());
                TransferOutcome og = g.outcome().get(30, TimeUnit.SECONDS);
                assertEquals(Status.TIMED_OUT, og.status());
                assertEquals(2, og.quarantinedBlocks());
                assertEquals(Status.CANCELLED, c.outcome().get(30, TimeUnit.SECONDS).status());
                c.close();
                g.close();
                assertTrue(eventually(() -> ctxPool.freeBlocks() == capacity && genPool.freeBlocks() == capacity));
                assertEquals(0, gen.metrics().snapshot().recvSlotsInUse());
            }
        }
    }
}
