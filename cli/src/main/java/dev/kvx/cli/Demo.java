package dev.kvx.cli;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Notification;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/** {@code kvx demo}: a real NIXL transfer between two agents, verified and timed. */
final class Demo {
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    private Demo() {}

    static int run(String[] args, PrintStream out) throws IllegalArgumentException {
        long size = 64L << 20;
        int iterations = 5;
        String memory = "dram";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--memory" -> memory = value(args, ++i, "--memory").toLowerCase(Locale.ROOT);
                case "--size" -> size = parseSize(value(args, ++i, "--size"));
                case "--iterations" -> iterations = Integer.parseInt(value(args, ++i, "--iterations"));
                default -> throw new IllegalArgumentException("unknown option '" + args[i] + "' (try: kvx help)");
            }
        }
        if (size <= 0 || size > (1L << 31) - 4096) {
            throw new IllegalArgumentException("--size must be between 1 B and 2 GiB, got " + size);
        }
        if (iterations < 1) {
            throw new IllegalArgumentException("--iterations must be >= 1");
        }
        if (memory.equals("vram")) {
            try {
                return VramDemo.run(size, iterations, out);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                out.println("demo interrupted");
                return 1;
            }
        }
        if (!memory.equals("dram")) {
            throw new IllegalArgumentException("--memory must be dram or vram, got '" + memory + "'");
        }
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
                        return 1;
                    }
                    back.fill(0, size, (byte) 0);
                    try (Transfer r = ctx.createTransfer(TransferOp.READ, MemoryKind.DRAM, List.of(back.descriptor()),
                            MemoryKind.DRAM, List.of(dst.descriptor()), gen.name(), null)) {
                        reads[it] = timed(r);
                    }
                    long a = src.checksum(0, size);
                    if (a != dst.checksum(0, size) || a != back.checksum(0, size)) {
                        out.println("FAILED: checksums differ after iteration " + it);
                        return 1;
                    }
                }
                report(out, "WRITE", size, writes);
                report(out, "READ ", size, reads);
                out.printf(Locale.ROOT, "  verified: CRC32C %08x on all three buffers; notifications received: %d%n",
                        src.checksum(0, size), iterations);
            }
            out.println("demo: OK (first iteration includes UCX connection set-up)");
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.println("demo interrupted");
            return 1;
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

    static void report(PrintStream out, String what, long size, long[] nanos) {
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

    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mul = 1;
        if (t.endsWith("GIB") || t.endsWith("G")) {
            mul = 1L << 30;
        } else if (t.endsWith("MIB") || t.endsWith("M")) {
            mul = 1L << 20;
        } else if (t.endsWith("KIB") || t.endsWith("K")) {
            mul = 1L << 10;
        }
        String digits = t.replaceAll("[A-Z]+$", "");
        try {
            return Long.parseLong(digits) * mul;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cannot read size '" + s + "' (examples: 4096, 64KiB, 64MiB, 1GiB)");
        }
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) {
            throw new IllegalArgumentException(opt + " needs a value");
        }
        return args[i];
    }

    static String human(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes % (1L << 10) == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }
}
