package dev.kvx.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * What {@link RequestBench} stands on that is not kvx: the arguments (the C program's key=value ones,
 * {@code jmh/c/request_bench_common.h}), the metadata exchange through files, the per-phase figures
 * and the CPU marks the driver relays, and the block contents the decode side verifies. Output lines
 * start with {@code RB<TAB>}, as the C and Python programs' do.
 */
final class RequestBenchKit {
    private static final long MAGIC = 0x48434e4542584b56L;
    private static final long K1 = 0x9E3779B97F4A7C15L;
    private static final long K2 = 0xD1B54A32D192ED03L;
    /** clock_gettime(CLOCK_PROCESS_CPUTIME_ID): the MXBean's process CPU time moves in 10 ms steps here. */
    private static final java.lang.invoke.MethodHandle CLOCK_GETTIME = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("clock_gettime").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MemorySegment TIMESPEC = Arena.global().allocate(16, 8);
    private static final java.lang.invoke.MethodHandle MADVISE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("madvise").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private RequestBenchKit() {}

    /** One phase of a plan: {@code label:inflight:blocks:warmup:measured}. */
    record Phase(String label, int inflight, int blocks, int warmup, int measured) {
        static Phase parse(String s) {
            String[] p = s.split(":");
            if (p.length != 5) {
                die("bad phase '" + s + "' (label:inflight:blocks:warmup:measured)");
            }
            return new Phase(p[0], Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]), Integer.parseInt(p[4]));
        }
    }

    /** The key=value arguments. */
    static final class Args {
        private final Map<String, String> values = new HashMap<>(Map.of("dir", ".", "timeout_ms", "30000", "seed", "1",
                "verify_every", "8", "mem", "dram", "device", "0", "sessions", "", "mode", "push", "hugepages", "0"));

        static Args parse(String[] argv) {
            Args a = new Args();
            for (String s : argv) {
                int eq = s.indexOf('=');
                if (eq <= 0) {
                    die("argument '" + s + "' is not key=value");
                }
                a.values.put(s.substring(0, eq), s.substring(eq + 1));
            }
            for (String k : List.of("role", "name", "block_bytes", "pool_blocks", "plan")) {
                if (!a.values.containsKey(k)) {
                    die("needs " + k + "= (see jmh/c/request_bench_common.h)");
                }
            }
            if (!a.get("mode").equals("push") && !a.get("mode").equals("pull")) {
                die("mode must be push or pull, got " + a.get("mode"));
            }
            return a;
        }

        String get(String k) {
            return values.get(k);
        }

        /** An optional argument, or {@code dflt}. */
        String opt(String k, String dflt) {
            return values.getOrDefault(k, dflt);
        }

        long num(String k) {
            return Long.parseLong(values.get(k));
        }

        /** The plan of each session (';' separated), each a list of phases (',' separated). */
        List<List<Phase>> plans() {
            List<List<Phase>> out = new ArrayList<>();
            for (String session : get("plan").split(";")) {
                List<Phase> phases = new ArrayList<>();
                for (String p : session.split(",")) {
                    phases.add(Phase.parse(p));
                }
                out.add(phases);
            }
            return out;
        }
    }

    static void die(String msg) {
        System.err.println("RequestBench: " + msg);
        System.out.flush();
        Runtime.getRuntime().halt(2);
    }

    static void publishMetadata(Args a, byte[] md) throws IOException {
        Path path = Path.of(a.get("dir"), a.get("name") + ".md");
        Path tmp = Path.of(a.get("dir"), a.get("name") + ".md.tmp");
        Files.write(tmp, md);
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Publishes a file in the run folder (atomically): a marker or data for the other process. */
    static void publish(Args a, String file, byte[] data) throws IOException {
        Path path = Path.of(a.get("dir"), file + ".md");
        Path tmp = Path.of(a.get("dir"), file + ".md.tmp");
        Files.write(tmp, data);
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
    }

    static byte[] awaitMetadata(Args a, String peer) throws IOException, InterruptedException {
        Path path = Path.of(a.get("dir"), peer + ".md");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(path)) {
            if (System.nanoTime() - until > 0) {
                die("no metadata of " + peer + " at " + path + " within 120 s");
            }
            Thread.sleep(2);
        }
        return Files.readAllBytes(path);
    }

    /** JVM counters of the whole process: CPU ns, JIT ms, bytes allocated, GC count and ms. */
    static long[] jvmCounters() {
        long gcCount = 0;
        long gcMs = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcCount += Math.max(gc.getCollectionCount(), 0);
            gcMs += Math.max(gc.getCollectionTime(), 0);
        }
        return new long[] {processCpuNanos(), ManagementFactory.getCompilationMXBean().getTotalCompilationTime(),
                THREADS.getTotalThreadAllocatedBytes(), gcCount, gcMs};
    }

    /** CPU time of the whole process (all threads, native ones too), in ns. */
    static synchronized long processCpuNanos() {
        try {
            int rc = (int) CLOCK_GETTIME.invokeExact(2, TIMESPEC); // CLOCK_PROCESS_CPUTIME_ID
            if (rc != 0) {
                die("clock_gettime failed");
            }
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        return TIMESPEC.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + TIMESPEC.get(ValueLayout.JAVA_LONG, 8);
    }

    /**
     * Host memory already touched (kvx zero-fills its pools) into transparent huge pages now
     * (MADV_COLLAPSE), or kept on 4 KiB pages (MADV_NOHUGEPAGE), as the C and Python pools are told
     * by the same hugepages= argument (numpy asks for huge pages on large arrays by default).
     */
    static void hugePages(long address, long size, boolean on) {
        long huge = 2L << 20;
        long start = on ? (address + huge - 1) & -huge : address & -4096L;
        long end = on ? (address + size) & -huge : address + size;
        if (end <= start) {
            return;
        }
        try {
            int rc = (int) MADVISE.invokeExact(start, end - start, on ? 25 : 15); // MADV_COLLAPSE : MADV_NOHUGEPAGE
            if (rc != 0) {
                die("madvise(" + (on ? "MADV_COLLAPSE" : "MADV_NOHUGEPAGE") + ") of the pool failed");
            }
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static String counterLine(long[] c) {
        return c[0] + "\t" + System.nanoTime() + "\t" + c[1] + "\t" + c[2] + "\t" + c[3] + "\t" + c[4];
    }

    /**
     * Prefill side: a daemon thread answering the driver's "MARK label begin|end" lines with the
     * counters; it ends when the driver closes stdin (after the last decode process), so join it last.
     */
    static Thread startMarkThread() {
        Thread t = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    String[] p = line.trim().split("\\s+");
                    if (p.length == 3 && p[0].equals("MARK")) {
                        System.out.println("RB\tCPU\t" + p[1] + "\t" + p[2] + "\t" + counterLine(jvmCounters()));
                        System.out.flush();
                    }
                }
            } catch (IOException e) {
                die("reading marks: " + e);
            }
        }, "rb-marks");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Decode side: one phase's latencies and counters, written out like the C program's. */
    static final class PhaseStats {
        private final Args args;
        private final Phase phase;
        private final long[] latencies;
        private int n;
        private long t0;
        private volatile long last;
        private long[] c0;

        PhaseStats(Args args, Phase phase) {
            this.args = args;
            this.phase = phase;
            this.latencies = new long[phase.measured()];
        }

        void begin() throws IOException {
            System.out.println("RB\tMARK\t" + phase.label() + "\tbegin");
            System.out.flush();
            awaitDriver();
            t0 = System.nanoTime();
            c0 = jvmCounters();
        }

        /** Called from the completion callbacks: in kvx's default delivery, virtual threads, several at once. */
        synchronized void add(long latencyNanos, long t) {
            latencies[n++] = latencyNanos;
            last = Math.max(last, t);
        }

        synchronized void end() throws IOException {
            long[] c = jvmCounters();
            System.out.println("RB\tMARK\t" + phase.label() + "\tend");
            System.out.flush();
            awaitDriver();
            Path path = Path.of(args.get("dir"), "lat-" + args.get("name") + "-" + phase.label() + ".txt");
            StringBuilder sb = new StringBuilder(n * 8);
            for (int i = 0; i < n; i++) {
                sb.append(latencies[i]).append('\n');
            }
            Files.writeString(path, sb);
            String l = "RB\tRESULT\t" + phase.label() + "\t";
            System.out.println(l + "requests\t" + n);
            System.out.println(l + "seconds\t" + String.format(Locale.ROOT, "%.6f", (last - t0) / 1e9));
            System.out.println(l + "cpu_ns\t" + (c[0] - c0[0]));
            System.out.println(l + "jit_ms\t" + (c[1] - c0[1]));
            System.out.println(l + "alloc_bytes\t" + (c[2] - c0[2]));
            System.out.println(l + "gc_count\t" + (c[3] - c0[3]));
            System.out.println(l + "gc_ms\t" + (c[4] - c0[4]));
            System.out.println(l + "latency_file\t" + path);
            System.out.flush();
        }
    }

    /** The driver answers a mark once it has read both processes' counters (end of input: no driver, go on). */
    private static void awaitDriver() throws IOException {
        while (true) {
            int c = System.in.read();
            if (c == -1 || c == '\n') {
                return;
            }
        }
    }

    /** Reads and writes a pool's bytes: directly for host memory, by copies for device memory. */
    interface PoolMemory {
        /** The pool as a segment when it is in host memory, else null. */
        MemorySegment host();

        void read(long offset, byte[] dst);

        void write(long offset, byte[] src);
    }

    /**
     * Block contents: header {magic, source block, body sum, magic^block^sum}, then a body derived from
     * the source block. The decode side zeroes the headers of a request's blocks before submitting it,
     * checks them after (all of them in host memory; the sampled block in device memory), and the whole
     * body of one block of every {@code verify_every}-th request.
     */
    static final class Blocks {
        private final PoolMemory mem;
        private final long bb;
        private final int every;
        private final byte[] zero = new byte[32];
        private byte[] scratch;

        Blocks(PoolMemory mem, long blockBytes, int verifyEvery) {
            this.mem = mem;
            this.bb = blockBytes;
            this.every = verifyEvery;
        }

        void fill(int nblocks) {
            int words = (int) (bb / 8);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) bb).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int b = 0; b < nblocks; b++) {
                long sum = 0;
                for (int i = 4; i < words; i++) {
                    long w = b * K1 + i * K2;
                    buf.putLong(i * 8, w);
                    sum += w;
                }
                buf.putLong(0, MAGIC).putLong(8, b).putLong(16, sum).putLong(24, MAGIC ^ b ^ sum);
                mem.write(b * bb, buf.array());
            }
        }

        void clear(long id, int[] ids) {
            MemorySegment h = mem.host();
            if (h != null) {
                for (int b : ids) { // four words, no slices: the harness allocates nothing per request
                    h.set(ValueLayout.JAVA_LONG_UNALIGNED, b * bb, 0L);
                    h.set(ValueLayout.JAVA_LONG_UNALIGNED, b * bb + 8, 0L);
                    h.set(ValueLayout.JAVA_LONG_UNALIGNED, b * bb + 16, 0L);
                    h.set(ValueLayout.JAVA_LONG_UNALIGNED, b * bb + 24, 0L);
                }
            } else if (id % every == 0) {
                mem.write(ids[(int) ((id / every) % ids.length)] * bb, zero);
            }
        }

        void verify(long id, int[] ids) {
            int pick = (int) ((id / every) % ids.length);
            MemorySegment h = mem.host();
            if (h != null) {
                for (int i = 0; i < ids.length; i++) {
                    if (!intact(h, ids[i] * bb, id % every == 0 && i == pick)) {
                        die("request " + id + ": block " + i + " (pool block " + ids[i] + ") did not arrive intact");
                    }
                }
            } else if (id % every == 0) {
                verifyDevice(id, ids[pick], pick);
            }
        }

        /**
         * One sampled block of device memory, copied into the one scratch array: under the lock, since kvx's
         * default delivery completes outcomes on virtual threads, several at once (a shared scratch without it
         * read as "not intact" blocks on the H100 with 4 requests in flight).
         */
        private synchronized void verifyDevice(long id, int block, int pick) {
            scratch = scratch != null ? scratch : new byte[(int) bb];
            mem.read(block * bb, scratch);
            if (!intact(MemorySegment.ofArray(scratch), 0, true)) {
                String first = describe(MemorySegment.ofArray(scratch));
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                mem.read(block * bb, scratch); // a copy still on its way shows up here
                die("request " + id + ": block " + pick + " (pool block " + block + ") did not arrive intact: " + first
                        + "; 200 ms later: " + describe(MemorySegment.ofArray(scratch)));
            }
        }

        /** The header words and the body's sum, for a failure message. */
        private String describe(MemorySegment s) {
            ValueLayout.OfLong w = ValueLayout.JAVA_LONG_UNALIGNED;
            long got = 0;
            for (long o = 32; o < bb; o += 8) {
                got += s.get(w, o);
            }
            return String.format("magic %s, source block %d, sum %x, check %s, body sum %x, intact %s",
                    s.get(w, 0) == MAGIC ? "ok" : Long.toHexString(s.get(w, 0)), s.get(w, 8), s.get(w, 16),
                    s.get(w, 24) == (s.get(w, 0) ^ s.get(w, 8) ^ s.get(w, 16)) ? "ok" : "bad", got, intact(s, 0, true));
        }

        private boolean intact(MemorySegment s, long at, boolean body) {
            ValueLayout.OfLong w = ValueLayout.JAVA_LONG_UNALIGNED;
            long m = s.get(w, at);
            long b = s.get(w, at + 8);
            long sum = s.get(w, at + 16);
            if (m != MAGIC || s.get(w, at + 24) != (m ^ b ^ sum)) {
                return false;
            }
            if (!body) {
                return true;
            }
            long got = 0;
            for (long o = 32; o < bb; o += 8) {
                got += s.get(w, at + o);
            }
            return got == sum;
        }
    }

    /** A seeded permutation of 0..n-1. */
    static int[] shuffled(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Random r = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
