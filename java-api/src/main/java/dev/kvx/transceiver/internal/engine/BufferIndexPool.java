package dev.kvx.transceiver.internal.engine;

import dev.kvx.AlreadyClosedException;
import java.util.BitSet;

/**
 * The staging-buffer slots of one side (the reference's buffer-index pool). Nothing ever waits on a
 * condition variable here: the progress engine calls {@link #tryAcquire} each tick for the request at
 * the head of its queue, and the request's deadline and cancel flag bound that wait. A {@link Lease}
 * returns its slot exactly once; using it afterwards throws. Thread-safe.
 */
public final class BufferIndexPool {
    private final BitSet used = new BitSet();
    private final int size;
    private long acquired;
    private long released;

    /** @param size number of slots, at least 1 */
    public BufferIndexPool(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("buffer pool size must be >= 1, got " + size);
        }
        this.size = size;
    }

    /** One held slot. Close (or release) returns it; both are idempotent. */
    public final class Lease implements AutoCloseable {
        private final int index;
        private final long requestId;
        private boolean released;

        private Lease(int index, long requestId) {
            this.index = index;
            this.requestId = requestId;
        }

        /**
         * The slot index.
         *
         * @throws AlreadyClosedException once released
         */
        public int index() {
            synchronized (BufferIndexPool.this) {
                if (released) {
                    throw new AlreadyClosedException("buffer lease " + index + " of request " + requestId + " was released");
                }
                return index;
            }
        }

        /** Whether the slot went back. */
        public boolean isReleased() {
            synchronized (BufferIndexPool.this) {
                return released;
            }
        }

        /** Returns the slot; a second call does nothing. */
        @Override
        public void close() {
            synchronized (BufferIndexPool.this) {
                if (released) {
                    return;
                }
                released = true;
                used.clear(index);
                BufferIndexPool.this.released++;
            }
        }
    }

    /** A free slot for {@code requestId}, or null if all are held. Never blocks. */
    public synchronized Lease tryAcquire(long requestId) {
        int i = used.nextClearBit(0);
        if (i >= size) {
            return null;
        }
        used.set(i);
        acquired++;
        return new Lease(i, requestId);
    }

    /** Slots in use now. */
    public synchronized int inUse() {
        return used.cardinality();
    }

    /** Total slots. */
    public int size() {
        return size;
    }

    /** Leases handed out so far. */
    public synchronized long acquiredCount() {
        return acquired;
    }

    /** Leases returned so far. */
    public synchronized long releasedCount() {
        return released;
    }
}
