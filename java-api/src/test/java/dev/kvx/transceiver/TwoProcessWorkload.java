package dev.kvx.transceiver;

import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import java.util.SplittableRandom;

/** What both processes of the two-process test agree on: the block shape and each block's bytes. */
final class TwoProcessWorkload {
    /** 16 tokens × 2 layers × 2 (K,V) × 2 heads × 64 × bf16 = 16 KiB per block; 64 blocks = 1 MiB per request. */
    static final KvCacheLayout LAYOUT = new KvCacheLayout(16, 2, 2, 64, 2);
    static final int BLOCKS_PER_REQUEST = 64;

    private TwoProcessWorkload() {}

    /**
     * A pool in host memory, or in a GPU's memory (the pool owns the buffer; close() frees it): GPU 0,
     * unless {@code -Dkvx.test.ctxDevice} / {@code -Dkvx.test.genDevice} name another for the
     * {@code ctx-pool} / {@code gen-pool} (ci/device-two-gpu.sh puts the two sides on two GPUs).
     */
    static KvBlockPool pool(boolean vram, int blocks, String label) {
        if (!vram) {
            return KvBlockPool.inHostMemory(LAYOUT, blocks, label);
        }
        DeviceBuffer region = DeviceBuffer.allocate(deviceFor(label), LAYOUT.blockBytes() * blocks, label);
        return KvBlockPool.ownedOver(LAYOUT, region);
    }

    /** The GPU for a pool label: {@code kvx.test.ctxDevice} for ctx-*, {@code kvx.test.genDevice} for gen-*, else 0. */
    static int deviceFor(String label) {
        String prop = label.startsWith("ctx") ? "kvx.test.ctxDevice" : label.startsWith("gen") ? "kvx.test.genDevice" : null;
        return prop == null ? 0 : Integer.getInteger(prop, 0);
    }

    /** The KV bytes of one block of one request, the same in both processes. */
    static byte[] blockContent(long requestId, int block) {
        byte[] b = new byte[(int) LAYOUT.blockBytes()];
        SplittableRandom rnd = new SplittableRandom(requestId * 1_000_003L + block);
        for (int i = 0; i < b.length; i += 8) {
            long v = rnd.nextLong();
            for (int k = 0; k < 8 && i + k < b.length; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }
}
