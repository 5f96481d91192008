package dev.kvx.kv;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class KvBlockPoolTest {
    @Test
    void blockSizeFollowsTheModelShape() {
        KvCacheLayout l = KvCacheLayout.small(32);
        assertEquals(112 * 1024, l.bytesPerToken(), "28 layers x 2 x 8 heads x 128 x bf16");
        assertEquals(32L * 112 * 1024, l.blockBytes());
        assertEquals(2, l.blocksFor(33));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new KvCacheLayout(0, 1, 1, 1, 2));
        assertTrue(e.getMessage().contains("tokensPerBlock"));
    }

    @Test
    void allocateFreeQuarantineKeepEveryBlockAccountedFor() {
        try (KvBlockPool pool = KvBlockPool.inHostMemory(new KvCacheLayout(4, 1, 1, 64, 2), 8, "t")) {
            assertEquals(8, pool.capacity());
            int[] a = pool.allocate(5).orElseThrow();
            assertTrue(pool.allocate(4).isEmpty(), "only 3 left");
            assertEquals(3, pool.freeBlocks());
            pool.quarantine(a);
            assertEquals(5, pool.quarantinedBlocks());
            assertEquals(0, pool.allocatedBlocks());
            assertThrows(IllegalStateException.class, () -> pool.free(a), "quarantined blocks are not freed directly");
            pool.endQuarantine(a);
            assertEquals(8, pool.freeBlocks());
            int[] b = pool.allocate(8).orElseThrow();
            pool.free(b);
            assertThrows(IllegalStateException.class, () -> pool.free(b), "double free");
            assertEquals(8, pool.freeBlocks());
            assertEquals(pool.region().address() + 3 * pool.layout().blockBytes(), pool.descriptor(3).address());
            assertThrows(IndexOutOfBoundsException.class, () -> pool.descriptor(8));
        }
    }

    @Test
    void poisonedFreeBlocksCatchAWriteIntoAFreeBlockAndNothingElse() {
        try (KvBlockPool pool = KvBlockPool.inHostMemory(new KvCacheLayout(4, 1, 1, 64, 2), 4, "p").poisonFreeBlocks()) {
            int[] a = pool.allocate(4).orElseThrow();
            assertEquals(0, pool.freeBlockWrites(), "fresh blocks carry the poison");
            pool.region().copyFromHost(pool.offset(a[0]), new byte[] {1, 2, 3}); // the owner writes: fine
            pool.quarantine(new int[] {a[1]});
            pool.region().copyFromHost(pool.offset(a[1]), new byte[] {9}); // a late write into quarantine: fine
            pool.endQuarantine(new int[] {a[1]});
            pool.free(new int[] {a[0], a[2], a[3]});
            pool.region().copyFromHost(pool.offset(a[2]) + 100, new byte[] {7}); // a write into a FREE block
            pool.allocate(4).orElseThrow();
            assertEquals(1, pool.freeBlockWrites(), "exactly the block written while free");
        }
    }
}
