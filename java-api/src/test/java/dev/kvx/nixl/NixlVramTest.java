package dev.kvx.nixl;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kvx.cuda.Cuda;
import dev.kvx.cuda.CudaInfo;
import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryKind;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Real NIXL transfers of GPU memory (two agents on one GPU); skipped with the reason without a GPU. */
@Tag("gpu")
class NixlVramTest {
    private static final Duration LONG = Duration.ofSeconds(60);

    @BeforeEach
    void needsGpu() {
        CudaInfo info = Cuda.probe();
        assumeTrue(info.available(), () -> "skipped: " + info.reason());
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {4096, 1 << 20, 64 << 20})
    void vramToVramWriteAndReadBack(int size) throws Exception {
        byte[] data = new byte[size];
        new Random(size).nextBytes(data);
        try (NixlAgent a = NixlAgent.createWithUcx("vram-a-" + size);
             NixlAgent b = NixlAgent.createWithUcx("vram-b-" + size);
             DeviceBuffer src = DeviceBuffer.allocate(0, size, "src");
             DeviceBuffer back = DeviceBuffer.allocate(0, size, "back");
             DeviceBuffer dst = DeviceBuffer.allocate(0, size, "dst")) {
            src.copyFromHost(0, data);
            try (Registration ra = a.register(src, back); Registration rb = b.register(dst)) {
                a.loadRemoteMetadata(b.localMetadata());
                try (Transfer w = a.createTransfer(TransferOp.WRITE, MemoryKind.VRAM, List.of(src.descriptor()),
                        MemoryKind.VRAM, List.of(dst.descriptor()), b.name(), "vram-done".getBytes())) {
                    w.post();
                    assertEquals(TransferState.DONE, w.await(LONG));
                }
                assertEquals("vram-done", NixlTransferTest.awaitOne(b).get(0).text());
                byte[] got = new byte[size];
                dst.copyToHost(0, got);
                assertArrayEquals(data, got, "VRAM WRITE content");
                try (Transfer r = a.createTransfer(TransferOp.READ, MemoryKind.VRAM, List.of(back.descriptor()),
                        MemoryKind.VRAM, List.of(dst.descriptor()), b.name(), null)) {
                    r.post();
                    assertEquals(TransferState.DONE, r.await(LONG));
                }
                back.copyToHost(0, got);
                assertArrayEquals(data, got, "VRAM READ content");
            }
        }
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {4096, 8 << 20})
    void hostToGpuAndGpuToHost(int size) throws Exception {
        byte[] data = new byte[size];
        new Random(size + 1).nextBytes(data);
        try (NixlAgent host = NixlAgent.createWithUcx("dram-side-" + size);
             NixlAgent gpu = NixlAgent.createWithUcx("vram-side-" + size);
             HostBuffer h = HostBuffer.allocate(size, "host");
             HostBuffer hBack = HostBuffer.allocate(size, "host-back");
             DeviceBuffer d = DeviceBuffer.allocate(0, size, "gpu")) {
            h.write(0, data);
            try (Registration rh = host.register(h, hBack); Registration rd = gpu.register(d)) {
                host.loadRemoteMetadata(gpu.localMetadata());
                try (Transfer w = host.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(h.descriptor()),
                        MemoryKind.VRAM, List.of(d.descriptor()), gpu.name(), null)) {
                    w.post();
                    assertEquals(TransferState.DONE, w.await(LONG));
                }
                byte[] got = new byte[size];
                d.copyToHost(0, got);
                assertArrayEquals(data, got, "DRAM -> VRAM");
                try (Transfer r = host.createTransfer(TransferOp.READ, MemoryKind.DRAM, List.of(hBack.descriptor()),
                        MemoryKind.VRAM, List.of(d.descriptor()), gpu.name(), null)) {
                    r.post();
                    assertEquals(TransferState.DONE, r.await(LONG));
                }
                hBack.read(0, got);
                assertArrayEquals(data, got, "VRAM -> DRAM");
            }
        }
    }
}
