package dev.kvx.cuda;

import static dev.kvx.internal.gen.cudart.CudaRuntime.*;

import dev.kvx.AlreadyClosedException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A CUDA event for timing and ordering on a stream; {@link #close()} destroys it (idempotent). */
public final class CudaEvent implements AutoCloseable {
    private MemorySegment handle; // null once destroyed; guarded by this

    private CudaEvent(MemorySegment handle) {
        this.handle = handle;
    }

    /** Creates a timing-capable event on the current device. */
    public static CudaEvent create() {
        Cuda.requireDevice(0);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaEventCreateWithFlags(out, cudaEventDefault()), "cudaEventCreateWithFlags", null);
            return new CudaEvent(out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** Records the event on a stream. */
    public synchronized void record(CudaStream stream) {
        Cuda.check(cudaEventRecord(live(), stream.live()), "cudaEventRecord", null);
    }

    /** Waits for the event. */
    public synchronized void synchronize() {
        Cuda.check(cudaEventSynchronize(live()), "cudaEventSynchronize", null);
    }

    /** Milliseconds between two recorded, completed events. */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.JAVA_FLOAT);
            synchronized (start) {
                synchronized (end) {
                    Cuda.check(cudaEventElapsedTime(out, start.live(), end.live()), "cudaEventElapsedTime", null);
                }
            }
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    private MemorySegment live() {
        if (handle == null) {
            throw new AlreadyClosedException("CUDA event was destroyed");
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
        Cuda.check(cudaEventDestroy(h), "cudaEventDestroy", null);
    }
}
