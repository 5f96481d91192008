package dev.kvx.cli;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Notification;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kvx demo}: a real NIXL transfer between two agents, verified and timed. */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        usageHelpWidth = 110,
        description = {"Moves real bytes between two NIXL agents and verifies them.",
            "Two NIXL agents (UCX) in this process: WRITE the buffer with a completion notification, READ it back, verify "
                + "checksums, print first/median/best times. --memory vram moves GPU 0 memory and compares with cudaMemcpy."})
final class Demo implements Callable<Integer> {
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    /** Which memory the demo moves. */
    enum Memory { DRAM, VRAM }

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "64MiB",
            description = "bytes per transfer, 1 B to 2 GiB (4096, 64KiB, 64MiB, 1GiB; default ${DEFAULT-VALUE})")
    private long size;

    @Option(names = "--iterations", paramLabel = "N", defaultValue = "5", description = "transfers of each kind (default ${DEFAULT-VALUE})")
    private int iterations;

    @Option(names = "--memory", paramLabel = "KIND", defaultValue = "dram", description = "dram or vram (default ${DEFAULT-VALUE})")
    private Memory memory;

    Demo() {}

    @Override
    public Integer call() {
        if (size <= 0 || size > (1L << 31) - 4096) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--size must be between 1 B and 2 GiB, got " + size);
        }
        if (iterations < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--iterations must be >= 1, got " + iterations);
        }
        PrintWriter out = spec.commandLine().getOut();
        try {
            return memory == Memory.VRAM ? VramDemo.run(size, iterations, out) : dram(out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.println("demo interrupted");
            return Main.FAILED;
        }
    }

    private int dram(PrintWriter out) throws InterruptedException {
        out.printf(Locale.ROOT, "kvx demo: two NIXL agents (UCX) in one process, %s per transfer, %d iteration(s)%n",
                human(size), iterations);
        try (NixlAgent ctx = NixlAgent.createWithUcx("demo-context");
             NixlAgent gen = NixlAgent.createWithUcx("demo-generation");
             HostBuffer src = HostBuffer.allocate(size, "context-kv");
             HostBuffer dst = HostBuffer.allocate(size, "generation-kv");
             HostBuffer back = HostBuffer.allocate(size, "read-back")) {
            fillRandom(src, size);
            try (Registration rs = ctx.register(src, back); Registration rd = gen.register(dst)) {
                ctx.loadRemoteMetadata(gen.localMetadata());
                long[] writes = new long[iterations];
                long[] reads = new long[iterations];
                for (int it = 0; it < iterations; it++) {
                    byte[] note = ("kv-ready #" + it).getBytes(StandardCharsets.UTF_8);
                    try (Transfer w = ctx.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()),
                            MemoryKind.DRAM, List.of(dst.descriptor()), gen.name(), note)) {
                        writes[it] = timed(w);
                    }
                    List<Notification> got = gen.awaitNotifications(DEADLINE);
                    if (got.isEmpty() || !got.get(0).matches(note)) {
                        out.println("FAILED: the generation agent did not get the completion notification");
                        return Main.FAILED;
                    }
                    back.fill(0, size, (byte) 0);
                    try (Transfer r = ctx.createTransfer(TransferOp.READ, MemoryKind.DRAM, List.of(back.descriptor()),
                            MemoryKind.DRAM, List.of(dst.descriptor()), gen.name(), null)) {
                        reads[it] = timed(r);
                    }
                    long a = src.checksum(0, size);
                    if (a != dst.checksum(0, size) || a != back.checksum(0, size)) {
                        out.println("FAILED: checksums differ after iteration " + it);
                        return Main.FAILED;
                    }
                }
                report(out, "WRITE", size, writes);
                report(out, "READ ", size, reads);
                out.printf(Locale.ROOT, "  verified: CRC32C %08x on all three buffers; notifications received: %d%n",
                        src.checksum(0, size), iterations);
            }
            out.println("demo: OK (first iteration includes UCX connection set-up)");
            return Main.OK;
        }
    }

    static long timed(Transfer t) throws InterruptedException {
        long t0 = System.nanoTime();
        t.post();
        TransferState s = t.await(DEADLINE);
        if (s != TransferState.DONE) {
            throw new IllegalStateException(t + " did not finish within " + DEADLINE);
        }
        return System.nanoTime() - t0;
    }

    static void report(PrintWriter out, String what, long size, long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        long best = sorted[0];
        long median = sorted[sorted.length / 2];
        out.printf(Locale.ROOT, "  %s %s: first %.2f ms, median %.2f ms, best %.2f ms = %.2f GB/s%n", what, human(size),
                nanos[0] / 1e6, median / 1e6, best / 1e6, size / (double) best);
    }

    private static void fillRandom(HostBuffer buf, long size) {
        SplittableRandom rnd = new SplittableRandom(42);
        byte[] chunk = new byte[1 << 20];
        for (long off = 0; off < size; off += chunk.length) {
            int n = (int) Math.min(chunk.length, size - off);
            for (int i = 0; i < n; i++) {
                chunk[i] = (byte) rnd.nextInt();
            }
            buf.write(off, chunk, 0, n);
        }
    }

    static String human(long bytes) {
        return SizeConverter.human(bytes);
    }
}
