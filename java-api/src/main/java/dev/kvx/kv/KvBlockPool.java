package dev.kvx.kv;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.NativeBuffer;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.Optional;

/**
 * Fixed-size KV blocks cut from one region of native memory (DRAM now; any {@link NativeBuffer}, so a
 * VRAM region slots in). Blocks are free, allocated to a request, or <b>quarantined</b>: memory that an
 * abandoned transfer may still write into is kept out of circulation until that transfer is known to
 * be over. Thread-safe.
 */
public final class KvBlockPool implements AutoCloseable {
    private final KvCacheLayout layout;
    private final NativeBuffer region;
    private final boolean ownsRegion;
    private final int capacity;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final BitSet allocated = new BitSet();
    private final BitSet quarantined = new BitSet();
    private static final byte POISON = (byte) 0xA5;
    private boolean poison;
    private long freeBlockWrites;
    private final java.util.List<Integer> overwrittenFreeBlocks = new java.util.ArrayList<>();

    private KvBlockPool(KvCacheLayout layout, NativeBuffer region, boolean ownsRegion) {
        this.layout = layout;
        this.region = region;
        this.ownsRegion = ownsRegion;
        long n = region.size() / layout.blockBytes();
        if (n < 1 || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("region of " + region.size() + " B holds " + n + " blocks of "
                    + layout.blockBytes() + " B");
        }
        this.capacity = (int) n;
        for (int i = 0; i < capacity; i++) {
            free.add(i);
        }
    }

    /** A pool of {@code blocks} blocks in fresh host memory, which the pool owns. */
    public static KvBlockPool inHostMemory(KvCacheLayout layout, int blocks, String label) {
        if (blocks <= 0) {
            throw new IllegalArgumentException("blocks must be positive, got " + blocks);
        }
        return new KvBlockPool(layout, HostBuffer.allocate(layout.blockBytes() * blocks, label), true);
    }

    /** A pool over a region it takes ownership of (freed by {@link #close()}), e.g. a {@code DeviceBuffer}. */
    public static KvBlockPool ownedOver(KvCacheLayout layout, NativeBuffer region) {
        return new KvBlockPool(layout, region, true);
    }

    /** A pool over an existing region (e.g. a {@code DeviceBuffer}); the caller keeps ownership. */
    public static KvBlockPool over(KvCacheLayout layout, NativeBuffer region) {
        return new KvBlockPool(layout, region, false);
    }

    /** The block shape. */
    public KvCacheLayout layout() {
        return layout;
    }

    /** The memory the blocks live in (register it with the agent). */
    public NativeBuffer region() {
        return region;
    }

    /** Total blocks. */
    public int capacity() {
        return capacity;
    }

    /**
     * Debugging aid (host memory only): from now on every block that goes back to the free list is filled
     * with a poison byte, and every block handed out is checked for it first. A block whose poison was
     * overwritten while free was written by something that had no right to (a late transfer landing in
     * memory that was reused): counted in {@link #freeBlockWrites()}. Costs a fill and a check of every
     * block; the soak run turns it on for the generation side's pool.
     *
     * @return this pool
     * @throws IllegalStateException for a pool that is not in host memory
     */
    public synchronized KvBlockPool poisonFreeBlocks() {
        if (!(region instanceof HostBuffer h)) {
            throw new IllegalStateException("free-block poisoning needs a host-memory pool, this one is " + region.kind());
        }
        poison = true;
        for (int id : free) {
            h.fill(offset(id), layout.blockBytes(), POISON);
        }
        return this;
    }

    /** Free blocks found overwritten when handed out (with {@link #poisonFreeBlocks()} on; else 0). */
    public synchronized long freeBlockWrites() {
        return freeBlockWrites;
    }

    private void poison(int id) {
        if (poison) {
            ((HostBuffer) region).fill(offset(id), layout.blockBytes(), POISON);
        }
    }

    private void checkPoison(int id) {
        if (poison && !((HostBuffer) region).isFilledWith(offset(id), layout.blockBytes(), POISON)) {
            freeBlockWrites++;
            if (overwrittenFreeBlocks.size() < 100) {
                overwrittenFreeBlocks.add(id);
            }
            System.getLogger(KvBlockPool.class.getName()).log(System.Logger.Level.ERROR,
                    "KV block " + id + " was written while it was free (a transfer landed in reused memory)");
        }
    }

    /** Takes {@code count} free blocks, or none if fewer are free. */
    public synchronized Optional<int[]> allocate(int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("block count must be positive, got " + count);
        }
        if (count > free.size()) {
            return Optional.empty();
        }
        int[] ids = new int[count];
        for (int i = 0; i < count; i++) {
            ids[i] = free.poll();
            allocated.set(ids[i]);
            checkPoison(ids[i]);
        }
        return Optional.of(ids);
    }

    /** Returns blocks to the free list. Freeing a block that is not allocated is a bug and throws. */
    public synchronized void free(int[] ids) {
        for (int id : ids) {
            check(id);
            if (!allocated.get(id)) {
                throw new IllegalStateException("block " + id + " is not allocated (double free?)");
            }
        }
        for (int id : ids) {
            allocated.clear(id);
            poison(id);
            free.add(id);
        }
    }

    /** Moves allocated blocks to quarantine (a transfer may still touch them). */
    public synchronized void quarantine(int[] ids) {
        for (int id : ids) {
            check(id);
            if (!allocated.get(id)) {
                throw new IllegalStateException("block " + id + " is not allocated");
            }
        }
        for (int id : ids) {
            allocated.clear(id);
            quarantined.set(id);
        }
    }

    /** Releases quarantined blocks to the free list once nothing can touch them any more. */
    public synchronized void endQuarantine(int[] ids) {
        for (int id : ids) {
            check(id);
            if (!quarantined.get(id)) {
                throw new IllegalStateException("block " + id + " is not quarantined");
            }
        }
        for (int id : ids) {
            quarantined.clear(id);
            poison(id);
            free.add(id);
        }
    }

    /** Free blocks now. */
    public synchronized int freeBlocks() {
        return free.size();
    }

    /** Blocks held by requests now. */
    public synchronized int allocatedBlocks() {
        return allocated.cardinality();
    }

    /** Blocks in quarantine now. */
    public synchronized int quarantinedBlocks() {
        return quarantined.cardinality();
    }

    /** The descriptor of one block, for NIXL. */
    public MemoryDescriptor descriptor(int id) {
        check(id);
        return region.descriptor(id * layout.blockBytes(), layout.blockBytes());
    }

    /** Byte offset of a block in the region. */
    public long offset(int id) {
        check(id);
        return id * layout.blockBytes();
    }

    private void check(int id) {
        if (id < 0 || id >= capacity) {
            throw new IndexOutOfBoundsException("block " + id + " outside a pool of " + capacity);
        }
    }

    /** Frees the region if the pool owns it. */
    @Override
    public void close() {
        if (ownsRegion) {
            region.close();
        }
    }
}
