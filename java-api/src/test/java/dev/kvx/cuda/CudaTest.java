package dev.kvx.cuda;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kvx.AlreadyClosedException;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA runtime from Java: graceful without a GPU, real device memory with one. */
class CudaTest {
    @Test
    void probeNeverThrowsAndExplainsAMissingDevice() {
        CudaInfo info = Cuda.probe();
        assertNotNull(info);
        if (!info.available()) {
            assertEquals(0, info.deviceCount());
            assertTrue(info.reason().startsWith("no CUDA device") || info.reason().startsWith("CUDA runtime not loaded"),
                    info.reason());
            assertTrue(info.reason().contains("cuda") || info.reason().contains("CUDA"), info.reason());
            CudaException e = assertThrows(CudaException.class, () -> DeviceBuffer.allocate(0, 1024, "x"));
            assertEquals("cudaErrorNoDevice", e.errorName());
        } else {
            assertTrue(info.deviceCount() > 0);
            assertEquals("", info.reason());
        }
    }

    @Test
    void runtimeVersionIsReadWhenTheRuntimeLoads() {
        CudaInfo info = Cuda.probe();
        if (!info.reason().startsWith("CUDA runtime not loaded")) {
            assertEquals(13, info.runtimeVersion() / 1000, "the provisioned runtime is CUDA 13");
        }
        assertEquals("none", CudaInfo.versionString(0));
        assertEquals("13.0", CudaInfo.versionString(13000));
    }

    @Test
    @Tag("gpu")
    void pinnedMemoryStreamsAndEventsCopyAndTimeAndCloseIdempotently() {
        CudaInfo info = Cuda.probe();
        assumeTrue(info.available(), () -> "skipped: " + info.reason());
        int n = 8 << 20;
        byte[] data = new byte[n];
        new Random(2).nextBytes(data);
        PinnedHostBuffer host = PinnedHostBuffer.allocate(n, "pinned");
        PinnedHostBuffer back = PinnedHostBuffer.allocate(n, "pinned-back");
        DeviceBuffer dev = DeviceBuffer.allocate(0, n, "dev");
        CudaStream stream = CudaStream.create(0);
        CudaEvent start = CudaEvent.create();
        CudaEvent end = CudaEvent.create();
        try {
            host.copyFromHost(0, data);
            start.record(stream);
            stream.copyAsync(dev, 0, host, 0, n);
            stream.copyAsync(back, 0, dev, 0, n);
            end.record(stream);
            stream.synchronize();
            end.synchronize();
            assertTrue(CudaEvent.elapsedMillis(start, end) > 0);
            byte[] got = new byte[n];
            back.copyToHost(0, got);
            assertArrayEquals(data, got);
        } finally {
            for (AutoCloseable c : new AutoCloseable[] {start, end, stream, dev, host, back}) {
                try {
                    c.close();
                    c.close();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
        }
        assertThrows(AlreadyClosedException.class, stream::synchronize);
        assertThrows(AlreadyClosedException.class, host::address);
    }

    @Test
    void withoutAGpuEveryCudaResourceReportsNoDevice() {
        CudaInfo info = Cuda.probe();
        assumeTrue(!info.available(), "a GPU is present");
        assertEquals("cudaErrorNoDevice", assertThrows(CudaException.class, () -> PinnedHostBuffer.allocate(4096, "p")).errorName());
        assertEquals("cudaErrorNoDevice", assertThrows(CudaException.class, () -> CudaStream.create(0)).errorName());
        assertEquals("cudaErrorNoDevice", assertThrows(CudaException.class, CudaEvent::create).errorName());
    }

    @Test
    @Tag("gpu")
    void deviceMemoryRoundTripsThroughTheGpu() {
        CudaInfo info = Cuda.probe();
        assumeTrue(info.available(), () -> "skipped: " + info.reason());
        byte[] data = new byte[1 << 20];
        new Random(1).nextBytes(data);
        DeviceBuffer a = DeviceBuffer.allocate(0, data.length, "a");
        DeviceBuffer b = DeviceBuffer.allocate(0, data.length, "b");
        try {
            a.copyFromHost(0, data);
            DeviceBuffer.copy(a, 0, b, 0, data.length);
            byte[] back = new byte[data.length];
            b.copyToHost(0, back);
            assertArrayEquals(data, back);
        } finally {
            a.close();
            b.close();
            b.close();
        }
        assertThrows(AlreadyClosedException.class, a::address);
    }
}
