package dev.kvx.transceiver.internal.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.AlreadyClosedException;
import org.junit.jupiter.api.Test;

class BufferIndexPoolTest {
    @Test
    void aPoolOfOneNeverWedgesAndALeaseIsReturnedExactlyOnce() {
        BufferIndexPool pool = new BufferIndexPool(1);
        for (int i = 0; i < 1000; i++) {
            BufferIndexPool.Lease l = pool.tryAcquire(i);
            assertNotNull(l, "round " + i);
            assertNull(pool.tryAcquire(i + 10_000), "only one slot");
            assertEquals(0, l.index());
            l.close();
            l.close(); // idempotent: must not free the slot a second time
            assertThrows(AlreadyClosedException.class, l::index);
        }
        assertEquals(0, pool.inUse());
        assertEquals(1000, pool.acquiredCount());
        assertEquals(1000, pool.releasedCount());
        assertThrows(IllegalArgumentException.class, () -> new BufferIndexPool(0));
    }

    @Test
    void aStaleLeaseCannotReleaseTheNextHoldersSlot() {
        BufferIndexPool pool = new BufferIndexPool(1);
        BufferIndexPool.Lease first = pool.tryAcquire(1);
        first.close();
        BufferIndexPool.Lease second = pool.tryAcquire(2);
        first.close(); // stale: must not free slot 0 held by request 2
        assertEquals(1, pool.inUse());
        assertNull(pool.tryAcquire(3));
        second.close();
        assertEquals(0, pool.inUse());
    }
}
