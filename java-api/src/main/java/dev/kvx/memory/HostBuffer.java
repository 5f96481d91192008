package dev.kvx.memory;

import dev.kvx.AlreadyClosedException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;

/**
 * Page-aligned host (DRAM) memory in its own shared arena. Reads and writes go through bounds-checked
 * copies; after {@link #close()} every access throws {@link AlreadyClosedException} instead of touching
 * freed memory (accesses hold a read lock, close takes the write lock).
 */
public final class HostBuffer implements NativeBuffer {
    private static final long ALIGNMENT = 4096;
    private final Arena arena;
    private final MemorySegment segment;
    private final String label;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private int pins;
    private boolean closed;

    private static final long HUGE = 2L << 20;
    /** {@code -Dkvx.hugePages=false} keeps large buffers on 4 KiB pages. */
    private static final boolean HUGE_PAGES = Boolean.parseBoolean(System.getProperty("kvx.hugePages", "true"));

    private HostBuffer(long size, String label) {
        if (size <= 0) {
            throw new IllegalArgumentException("buffer size must be positive, got " + size);
        }
        this.arena = Arena.ofShared();
        this.segment = size >= HUGE && HUGE_PAGES ? hugePageMapping(size, arena) : arena.allocate(size, ALIGNMENT);
        this.label = label;
    }

    /**
     * A mapping of zeroed memory aligned to 2 MiB and advised for transparent huge pages before any page
     * is touched, unmapped when the arena closes. A KV pool is large and moved in big strides (by CMA copies
     * or a NIC): huge pages cut page faults and TLB misses on both ends (numpy asks for them the same way).
     */
    private static MemorySegment hugePageMapping(long size, Arena arena) {
        long length = size + HUGE;
        MemorySegment base = dev.kvx.internal.Libc.mmapAnonymous(length);
        long aligned = (base.address() + HUGE - 1) & -HUGE;
        dev.kvx.internal.Libc.madvise(aligned, (size + HUGE - 1) & -HUGE, dev.kvx.internal.Libc.MADV_HUGEPAGE);
        return MemorySegment.ofAddress(aligned).reinterpret(size, arena, ignored -> dev.kvx.internal.Libc.munmap(base, length));
    }

    /**
     * Allocates zeroed host memory. Buffers of 2 MiB and more are 2 MiB-aligned and backed by transparent
     * huge pages where the kernel allows it ({@code -Dkvx.hugePages=false} turns that off).
     *
     * @param size bytes, positive
     * @param label a name for messages
     */
    public static HostBuffer allocate(long size, String label) {
        return new HostBuffer(size, label);
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.DRAM;
    }

    @Override
    public int deviceId() {
        return 0;
    }

    @Override
    public long size() {
        return segment.byteSize();
    }

    @Override
    public long address() {
        lock.readLock().lock();
        try {
            ensureOpen();
            return segment.address();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Copies {@code src} into the buffer at {@code offset}. */
    public void write(long offset, byte[] src) {
        write(offset, src, 0, src.length);
    }

    /** Copies {@code length} bytes of {@code src} from {@code srcOffset} into the buffer at {@code offset}. */
    public void write(long offset, byte[] src, int srcOffset, int length) {
        lock.readLock().lock();
        try {
            ensureOpen();
            MemorySegment.copy(src, srcOffset, segment, ValueLayout.JAVA_BYTE, offset, length);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Copies {@code dst.length} bytes from the buffer at {@code offset} into {@code dst}. */
    public void read(long offset, byte[] dst) {
        lock.readLock().lock();
        try {
            ensureOpen();
            MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, dst, 0, dst.length);
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void copyFromHost(long offset, byte[] src) {
        write(offset, src);
    }

    @Override
    public void copyToHost(long offset, byte[] dst) {
        read(offset, dst);
    }

    /** Fills a range with one byte value. */
    public void fill(long offset, long length, byte value) {
        lock.readLock().lock();
        try {
            ensureOpen();
            segment.asSlice(offset, length).fill(value);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Whether every byte of a range equals {@code value}. */
    public boolean isFilledWith(long offset, long length, byte value) {
        lock.readLock().lock();
        try {
            ensureOpen();
            MemorySegment s = segment.asSlice(offset, length);
            long word = (value & 0xffL) * 0x0101010101010101L;
            long i = 0;
            for (; i + 8 <= length; i += 8) {
                if (s.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i) != word) {
                    return false;
                }
            }
            for (; i < length; i++) {
                if (s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != value) {
                    return false;
                }
            }
            return true;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** CRC32C of a range, for verifying transfers without copying to the heap. */
    public long checksum(long offset, long length) {
        lock.readLock().lock();
        try {
            ensureOpen();
            CRC32C crc = new CRC32C();
            ByteBuffer bb = segment.asSlice(offset, length).asByteBuffer();
            crc.update(bb);
            return crc.getValue();
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void pin() {
        lock.writeLock().lock();
        try {
            ensureOpen();
            pins++;
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void unpin() {
        lock.writeLock().lock();
        try {
            if (pins > 0) {
                pins--;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        lock.readLock().lock();
        try {
            return closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            if (pins > 0) {
                throw new IllegalStateException("host buffer '" + label + "' is still registered with NIXL ("
                        + pins + " registration(s)); close the registration or the agent first");
            }
            closed = true;
            arena.close();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new AlreadyClosedException("host buffer '" + label + "' was closed");
        }
    }

    @Override
    public String toString() {
        return "HostBuffer[" + label + ", " + size() + " B" + (closed ? ", closed" : "") + "]";
    }
}
