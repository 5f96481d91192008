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
