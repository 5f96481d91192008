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

    /** A pool in host memory, or in GPU 0's memory (the pool then owns nothing; the buffer is freed by close()). */
    static KvBlockPool pool(boolean vram, int blocks, String label) {
        if (!vram) {
            return KvBlockPool.inHostMemory(LAYOUT, blocks, label);
        }
        DeviceBuffer region = DeviceBuffer.allocate(0, LAYOUT.blockBytes() * blocks, label);
        return KvBlockPool.ownedOver(LAYOUT, region);
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
