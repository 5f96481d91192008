package dev.kvx.cuda;

import static dev.kvx.internal.gen.cudart.CudaRuntime.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.memory.MemoryKind;
import dev.kvx.memory.NativeBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Page-locked host memory from {@code cudaMallocHost} (DRAM that the GPU can DMA directly), freed
 * by {@link #close()} with {@code cudaFreeHost}; idempotent, thread-safe, refused while a NIXL
 * registration pins it.
 */
public final class PinnedHostBuffer implements NativeBuffer {
    private final long size;
    private final String label;
    private MemorySegment segment; // null once freed; guarded by this
    private int pins;

    private PinnedHostBuffer(long size, String label, MemorySegment segment) {
        this.size = size;
        this.label = label;
        this.segment = segment;
    }

    /**
     * Allocates pinned host memory.
     *
     * @throws CudaException without a CUDA device, or if the allocation fails
     */
    public static PinnedHostBuffer allocate(long size, String label) {
        if (size <= 0) {
            throw new IllegalArgumentException("buffer size must be positive, got " + size);
        }
        Cuda.requireDevice(0);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaMallocHost(out, size), "cudaMallocHost", size + " B");
            return new PinnedHostBuffer(size, label, out.get(ValueLayout.ADDRESS, 0).reinterpret(size));
        }
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
        return size;
    }

    @Override
    public synchronized long address() {
        return live().address();
    }

    @Override
    public synchronized void copyFromHost(long offset, byte[] src) {
        MemorySegment.copy(src, 0, live(), ValueLayout.JAVA_BYTE, offset, src.length);
    }

    @Override
    public synchronized void copyToHost(long offset, byte[] dst) {
        MemorySegment.copy(live(), ValueLayout.JAVA_BYTE, offset, dst, 0, dst.length);
    }

    @Override
    public synchronized void pin() {
        live();
        pins++;
    }

    @Override
    public synchronized void unpin() {
        if (pins > 0) {
            pins--;
        }
    }

    @Override
    public synchronized void close() {
        if (segment == null) {
            return;
        }
        if (pins > 0) {
            throw new IllegalStateException("pinned buffer '" + label + "' is still registered with NIXL");
        }
        MemorySegment s = segment;
        segment = null;
        Cuda.check(cudaFreeHost(s), "cudaFreeHost", label);
    }

    private MemorySegment live() {
        if (segment == null) {
            throw new AlreadyClosedException("pinned buffer '" + label + "' was freed");
        }
        return segment;
    }
}
