package dev.kvx.cuda;

import static dev.kvx.internal.gen.cudart.CudaRuntime.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.memory.NativeBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A non-blocking CUDA stream on one device; {@link #close()} destroys it (idempotent, thread-safe). */
public final class CudaStream implements AutoCloseable {
    private final int device;
    private MemorySegment handle; // null once destroyed; guarded by this

    private CudaStream(int device, MemorySegment handle) {
        this.device = device;
        this.handle = handle;
    }

    /** Creates a stream with {@code cudaStreamNonBlocking} on {@code device}. */
    public static CudaStream create(int device) {
        Cuda.requireDevice(device);
        try (Arena tmp = Arena.ofConfined()) {
            Cuda.check(cudaSetDevice(device), "cudaSetDevice", "device " + device);
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaStreamCreateWithFlags(out, cudaStreamNonBlocking()), "cudaStreamCreateWithFlags", null);
            return new CudaStream(device, out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** Queues an asynchronous copy of {@code length} bytes between any two buffers (host or device). */
    public synchronized void copyAsync(NativeBuffer dst, long dstOffset, NativeBuffer src, long srcOffset, long length) {
        if (dstOffset < 0 || srcOffset < 0 || length < 0 || dstOffset > dst.size() - length || srcOffset > src.size() - length) {
            throw new IndexOutOfBoundsException("copy of " + length + " B outside " + src + " or " + dst);
        }
        Cuda.check(cudaMemcpyAsync(MemorySegment.ofAddress(dst.address() + dstOffset), MemorySegment.ofAddress(src.address() + srcOffset),
                length, cudaMemcpyDefault(), live()), "cudaMemcpyAsync", length + " B");
    }

    /** Waits until everything queued on the stream is done. */
    public synchronized void synchronize() {
        Cuda.check(cudaStreamSynchronize(live()), "cudaStreamSynchronize", null);
    }

    /** The device the stream belongs to. */
    public int device() {
        return device;
    }

    synchronized MemorySegment live() {
        if (handle == null) {
            throw new AlreadyClosedException("CUDA stream on device " + device + " was destroyed");
        }
        return handle;
    }

    @Override
    public synchronized void close() {
        if (handle == null) {
            return;
        }
        MemorySegment h = handle;
        handle = null;
        Cuda.check(cudaStreamDestroy(h), "cudaStreamDestroy", null);
    }
}
