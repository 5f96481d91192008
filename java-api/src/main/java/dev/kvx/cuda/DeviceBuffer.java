package dev.kvx.cuda;

import static dev.kvx.internal.gen.cudart.CudaRuntime.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.memory.MemoryKind;
import dev.kvx.memory.NativeBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Device (VRAM) memory from {@code cudaMalloc}, freed by {@link #close()} (idempotent, thread-safe,
 * refused while a NIXL registration pins it). Copies to and from the heap are synchronous.
 */
public final class DeviceBuffer implements NativeBuffer {
    private final int device;
    private final long size;
    private final String label;
    private MemorySegment pointer; // NULL once freed; guarded by this
    private int pins;

    private DeviceBuffer(int device, long size, String label, MemorySegment pointer) {
        this.device = device;
        this.size = size;
        this.label = label;
        this.pointer = pointer;
    }

    /**
     * Allocates device memory.
     *
     * @throws CudaException if there is no such device or the allocation fails
     */
    public static DeviceBuffer allocate(int device, long size, String label) {
        if (size <= 0) {
            throw new IllegalArgumentException("buffer size must be positive, got " + size);
        }
        Cuda.requireDevice(device);
        try (Arena tmp = Arena.ofConfined()) {
            Cuda.check(cudaSetDevice(device), "cudaSetDevice", "device " + device);
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaMalloc(out, size), "cudaMalloc", size + " B on device " + device);
            return new DeviceBuffer(device, size, label, out.get(ValueLayout.ADDRESS, 0));
        }
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.VRAM;
    }

    @Override
    public int deviceId() {
        return device;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public synchronized long address() {
        return live().address();
    }

    /** Copies host bytes to the device at {@code offset}; they are in device memory when it returns (it synchronizes the device). */
    @Override
    public synchronized void copyFromHost(long offset, byte[] src) {
        checkRange(offset, src.length);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment staging = tmp.allocateFrom(ValueLayout.JAVA_BYTE, src);
            Cuda.check(cudaSetDevice(device), "cudaSetDevice", null);
            Cuda.check(cudaMemcpy(MemorySegment.ofAddress(live().address() + offset), staging, src.length,
                    cudaMemcpyHostToDevice()), "cudaMemcpy", "host -> " + this);
            // cudaMemcpy from pageable memory may return once the bytes are staged, before the DMA lands; a
            // transfer that another stream or process starts next (UCX's cuda_ipc copy) is not ordered after it
            Cuda.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", toString());
        }
    }

    /** Copies device bytes at {@code offset} into {@code dst}. */
    @Override
    public synchronized void copyToHost(long offset, byte[] dst) {
        checkRange(offset, dst.length);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment staging = tmp.allocate(dst.length);
            Cuda.check(cudaSetDevice(device), "cudaSetDevice", null);
            Cuda.check(cudaMemcpy(staging, MemorySegment.ofAddress(live().address() + offset), dst.length,
                    cudaMemcpyDeviceToHost()), "cudaMemcpy", this + " -> host");
            MemorySegment.copy(staging, ValueLayout.JAVA_BYTE, 0, dst, 0, dst.length);
        }
    }

    /** Sets a range to one byte value. */
    public synchronized void fill(long offset, long length, byte value) {
        checkRange(offset, length);
        Cuda.check(cudaSetDevice(device), "cudaSetDevice", null);
        Cuda.check(cudaMemset(MemorySegment.ofAddress(live().address() + offset), value, length), "cudaMemset", toString());
        Cuda.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", toString());
    }

    /**
     * Device-to-device copy with {@code cudaMemcpy}, timed with the wall clock (synchronous).
     *
     * @return nanoseconds taken
     */
    public static long copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long length) {
        src.checkRange(srcOffset, length);
        dst.checkRange(dstOffset, length);
        long t0 = System.nanoTime();
        Cuda.check(cudaMemcpy(MemorySegment.ofAddress(dst.address() + dstOffset), MemorySegment.ofAddress(src.address() + srcOffset),
                length, cudaMemcpyDefault()), "cudaMemcpy", src + " -> " + dst);
        Cuda.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", null);
        return System.nanoTime() - t0;
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
        if (pointer == null) {
            return;
        }
        if (pins > 0) {
            throw new IllegalStateException("device buffer '" + label + "' is still registered with NIXL (" + pins
                    + " registration(s)); close the registration or the agent first");
        }
        MemorySegment p = pointer;
        pointer = null;
        Cuda.check(cudaSetDevice(device), "cudaSetDevice", null);
        Cuda.check(cudaFree(p), "cudaFree", label);
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("range [" + offset + ", +" + length + ") outside " + this);
        }
    }

    private MemorySegment live() {
        if (pointer == null) {
            throw new AlreadyClosedException("device buffer '" + label + "' was freed");
        }
        return pointer;
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + label + ", " + size + " B on GPU " + device + "]";
    }
}
