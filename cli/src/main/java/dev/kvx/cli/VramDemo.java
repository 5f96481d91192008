package dev.kvx.cli;

import dev.kvx.cuda.Cuda;
import dev.kvx.cuda.CudaInfo;
import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/** {@code kvx demo --memory vram}: NIXL VRAM-to-VRAM on GPU 0 against cudaMemcpy device-to-device. */
final class VramDemo {
    private VramDemo() {}

    static int run(long size, int iterations, PrintWriter out) throws InterruptedException {
        CudaInfo info = Cuda.probe();
        if (!info.available()) {
            out.println("kvx demo --memory vram: " + info.reason());
            return 3;
        }
        out.printf(Locale.ROOT, "kvx demo: NIXL VRAM->VRAM on GPU 0 (%s), %s per transfer, %d iteration(s)%n",
                info.devices().get(0).name(), Demo.human(size), iterations);
        byte[] data = new byte[(int) Math.min(size, 16L << 20)];
        new Random(3).nextBytes(data);
        try (NixlAgent ctx = NixlAgent.createWithUcx("vram-context");
             NixlAgent gen = NixlAgent.createWithUcx("vram-generation");
             DeviceBuffer src = DeviceBuffer.allocate(0, size, "ctx-kv");
             DeviceBuffer dst = DeviceBuffer.allocate(0, size, "gen-kv");
             DeviceBuffer ref = DeviceBuffer.allocate(0, size, "memcpy-target")) {
            src.copyFromHost(0, data);
            try (Registration a = ctx.register(src); Registration b = gen.register(dst)) {
                ctx.loadRemoteMetadata(gen.localMetadata());
                long[] nixl = new long[iterations];
                long[] memcpy = new long[iterations];
                for (int it = 0; it < iterations; it++) {
                    try (Transfer w = ctx.createTransfer(TransferOp.WRITE, MemoryKind.VRAM, List.of(src.descriptor()),
                            MemoryKind.VRAM, List.of(dst.descriptor()), gen.name(), null)) {
                        nixl[it] = Demo.timed(w);
                    }
                    memcpy[it] = DeviceBuffer.copy(src, 0, ref, 0, size);
                }
                byte[] back = new byte[data.length];
                dst.copyToHost(0, back);
                if (!Arrays.equals(data, back)) {
                    out.println("FAILED: VRAM contents differ after the NIXL WRITE");
                    return 1;
                }
                Demo.report(out, "NIXL WRITE VRAM", size, nixl);
                Demo.report(out, "cudaMemcpy D2D ", size, memcpy);
                long bestNixl = Arrays.stream(nixl).min().orElseThrow();
                long bestMemcpy = Arrays.stream(memcpy).min().orElseThrow();
                out.printf(Locale.ROOT, "  ratio NIXL/cudaMemcpy bandwidth (best of each): %.2f%n", bestMemcpy / (double) bestNixl);
            }
        }
        out.println("demo: OK");
        return 0;
    }
}
