package dev.kvx.transceiver;

import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The bandwidth sweep of ci/device-two-gpu.sh: a NIXL WRITE from GPU 0 (this process) to GPU 1 (a
 * second process, as a decode worker would be) for 64 KiB … 256 MiB, and {@code cudaMemcpy} with
 * {@code cudaMemcpyDefault} between the same two GPUs in this process, which kvx's bindings make
 * without enabling peer access, so the driver stages it through host memory (measured on H100s:
 * ~37 GB/s at most). The NVLink baseline is {@code jmh/c/cuda_peer_copy.c} (cudaMemcpyPeer with peer
 * access), which ci/device-two-gpu.sh runs beside this. Prints one line per size:
 * {@code size<TAB>nixl GB/s<TAB>staged copy GB/s<TAB>ratio}.
 * Usage: {@code TwoGpuBandwidthMain [srcDevice dstDevice]}; the child role is {@code target <device> <port>}.
 */
public final class TwoGpuBandwidthMain {
    static final long MAX = 256L << 20;

    private TwoGpuBandwidthMain() {}

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static NixlAgent agent(String name, int port) {
        NixlAgent a = NixlAgent.create(name, AgentConfig.defaults().withListener(port));
        a.createBackend("UCX", NixlAgent.defaultUcxParams());
        return a;
    }

    /** Runs a role. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("target")) {
            target(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            return;
        }
        int srcDev = args.length > 1 ? Integer.parseInt(args[0]) : 0;
        int dstDev = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        int targetPort = freePort();
        int myPort = freePort();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dkvx.native.dir=" + System.getProperty("kvx.native.dir", ".native"),
                "-cp", System.getProperty("java.class.path"), TwoGpuBandwidthMain.class.getName(), "target",
                String.valueOf(dstDev), String.valueOf(targetPort)));
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (BufferedReader childOut = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
             DeviceBuffer src = DeviceBuffer.allocate(srcDev, MAX, "src-gpu" + srcDev);
             DeviceBuffer peer = DeviceBuffer.allocate(dstDev, MAX, "peer-gpu" + dstDev);
             NixlAgent me = agent("bw-initiator", myPort);
             Registration reg = me.register(src)) {
            src.fill(0, MAX, (byte) 7);
            String ready = childOut.readLine(); // "READY <name> <address>"
            if (ready == null || !ready.startsWith("READY")) {
                throw new IllegalStateException("target process did not start: " + ready);
            }
            String[] f = ready.split(" ");
            String targetName = f[1];
            long dstAddr = Long.parseLong(f[2]);
            me.sendLocalMetadata("127.0.0.1", targetPort);
            me.fetchRemoteMetadata("127.0.0.1", targetPort);
            if (!me.awaitRemote(targetName, Duration.ofSeconds(30))) {
                throw new IllegalStateException("no metadata from " + targetName);
            }
            System.out.println("size\tnixl_GBps\tpeer_copy_GBps\tratio");
            for (long size : new long[] {64L << 10, 1L << 20, 16L << 20, 64L << 20, 256L << 20}) {
                double nixl;
                try (Transfer t = me.createTransfer(TransferOp.WRITE, MemoryKind.VRAM, List.of(new MemoryDescriptor(src.address(), size, srcDev)),
                        MemoryKind.VRAM, List.of(new MemoryDescriptor(dstAddr, size, dstDev)), targetName, null)) {
                    nixl = measure(() -> {
                        t.post();
                        if (t.await(Duration.ofSeconds(30)) != TransferState.DONE) {
                            throw new IllegalStateException("WRITE of " + size + " B did not finish in 30 s");
                        }
                    }, size);
                }
                double copy = measure(() -> DeviceBuffer.copy(src, 0, peer, 0, size), size);
                System.out.printf(Locale.ROOT, "%d\t%.2f\t%.2f\t%.3f%n", size, nixl, copy, nixl / copy);
            }
        } finally {
            child.getOutputStream().close(); // the target exits when its stdin closes
            child.waitFor();
        }
    }

    private interface Op {
        void run() throws Exception;
    }

    /** GB/s of repeated runs after 3 warm-ups, at least 5 runs and about half a second. */
    private static double measure(Op op, long bytes) throws Exception {
        for (int i = 0; i < 3; i++) {
            op.run();
        }
        int n = 0;
        long t0 = System.nanoTime();
        long t;
        do {
            op.run();
            n++;
        } while ((t = System.nanoTime()) - t0 < 500_000_000L || n < 5);
        return bytes * (double) n / (t - t0);
    }

    private static void target(int device, int port) throws Exception {
        try (DeviceBuffer dst = DeviceBuffer.allocate(device, MAX, "dst-gpu" + device);
             NixlAgent me = agent("bw-target", port);
             Registration reg = me.register(dst)) {
            System.out.println("READY " + me.name() + " " + dst.address());
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (in.readLine() != null) {
                // wait for the initiator to finish
            }
        }
    }
}
