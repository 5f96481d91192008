package dev.kvx.cli.soak;

import dev.kvx.cli.Main;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvx soak}: a context and a generation worker as two JVM processes talking through real NIXL
 * (UCX) on loopback, with this process as the serving front end. Phases: warm-up, burst, idle,
 * recovery probes; faults as configured; optionally the generation worker is killed mid-burst and
 * replaced. Prints a status line each second and a report at the end; exit status 0 only if every
 * request got exactly one outcome on each live side, nothing leaked and every probe completed.
 */
final class SoakDriver {
    private static final System.Logger LOG = System.getLogger(SoakDriver.class.getName());
    enum Phase { WARMUP, BURST, IDLE, PROBES }

    /** One side's outcome line ({@code why}: why a REJECTED one was, else empty). */
    record Out(String status, String phase, long latencyNanos, int quarantined, String why) {}

    /** One request as the front end sees it. */
    static final class Req {
        final long id;
        final int blocks;
        final Phase phase;
        final long submitNanos;
        volatile Out ctx;
        volatile long ctxAtNanos; // when the context side's outcome reached the driver
        volatile Out gen;

        Req(long id, int blocks, Phase phase) {
            this.id = id;
            this.blocks = blocks;
            this.phase = phase;
            this.submitNanos = System.nanoTime();
        }

        boolean done() {
            return ctx != null && gen != null;
        }

        /** The request's outcome: the generation side's, unless something overrides it. */
        String outcome() {
            if (gen == null || ctx == null) {
                return "NONE";
            }
            if (gen.status().equals("CORRUPT")) {
                return "CORRUPT";
            }
            if (gen.status().equals("KILLED")) {
                return "KILLED";
            }
            if (ctx.status().equals("REJECTED") || gen.status().equals("REJECTED")) {
                return "REJECTED";
            }
            if (gen.status().equals("COMPLETED") && !ctx.status().equals("COMPLETED")) {
                return "INCONSISTENT";
            }
            return gen.status();
        }
    }

    /** One worker process and what it last said. */
    final class Worker {
        final SoakWorker.Role role;
        final String name;
        final int port;
        final Process process;
        final PrintWriter stdin;
        final CountDownLatch ready = new CountDownLatch(1);
        final CountDownLatch connected = new CountDownLatch(1);
        final CountDownLatch bye = new CountDownLatch(1);
        volatile Map<String, Long> stat = Map.of();
        volatile String byeLine = "";
        volatile boolean killed;
        final Path log;

        Worker(SoakWorker.Role role, String name, int port) throws IOException {
            this.role = role;
            this.name = name;
            this.port = port;
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-Xmx1g"));
            String nativeDir = System.getProperty("kvx.native.dir");
            if (nativeDir != null) {
                cmd.add("-Dkvx.native.dir=" + nativeDir);
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
            cmd.addAll(SoakWorker.arguments(role, name, port, o));
            LOG.log(System.Logger.Level.DEBUG, "starting {0} worker: {1}", role, cmd);
            Files.createDirectories(o.reportDir);
            this.log = o.reportDir.resolve(name + ".log");
            // the worker's stderr (NIXL/UCX logs, Java stack traces) goes to a file the failure messages point at
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.to(log.toFile()));
            pb.environment().putIfAbsent("NIXL_LOG_LEVEL", "ERROR");
            pb.environment().put("KVX_SECRET_FILE", secretFile().toString()); // never on a command line
            pb.environment().putIfAbsent("UCX_LOG_LEVEL", "FATAL"); // a killed peer makes UCX log connect errors
            this.process = pb.start();
            this.stdin = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
            Thread reader = new Thread(this::read, "soak-read-" + name);
            reader.setDaemon(true);
            reader.start();
        }

        /** Waits for READY; a worker that exits or stays silent is reported with its exit status and the end of its log. */
        void awaitReady(Duration limit) throws InterruptedException {
            long end = System.nanoTime() + limit.toNanos();
            while (!ready.await(100, TimeUnit.MILLISECONDS)) {
                if (!process.isAlive() || System.nanoTime() > end) {
                    String why = process.isAlive() ? "did not say READY within " + limit.toSeconds() + " s"
                            : "exited with status " + process.exitValue();
                    process.destroyForcibly();
                    throw new IllegalStateException(role.name().toLowerCase(Locale.ROOT) + " worker " + name + " " + why + "; its log " + log + " ends with:\n" + tail(log, 15)
                            + "\n(run './kvx doctor' to check the native libraries)");
                }
            }
        }

        void send(String line) {
            if (!killed) {
                stdin.println(line);
            }
        }

        private void read() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    String[] f = line.split(" ");
                    switch (f[0]) {
                        case "READY" -> ready.countDown();
                        case "CONNECTED" -> connected.countDown();
                        case "STAT" -> stat = parseStat(f);
                        case "OUT" -> onOutcome(this, Long.parseLong(f[1]), new Out(f[2], f[3], Long.parseLong(f[4]), Integer.parseInt(f[5]),
                                f.length > 6 ? f[6] : ""));
                        case "BYE" -> {
                            byeLine = line;
                            stat = parseStat(f);
                            bye.countDown();
                        }
                        default -> { }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the process went away; outcomes it owed are accounted for by the driver
            }
        }
    }

    private final SoakOptions o;
    private final PrintWriter out;
    private final Map<Long, Req> requests = new ConcurrentHashMap<>();
    private final Map<Phase, long[]> phaseWindow = new LinkedHashMap<>();
    private final SoakTimeline timeline;
    private final SoakFaults faultPlan;
    private volatile Worker ctx;
    private volatile Worker gen;
    private volatile Phase phase = Phase.WARMUP;
    private volatile long killNanos;
    private final long t0 = System.nanoTime();
    private int generation = 1;

    SoakDriver(SoakOptions o, PrintWriter out) {
        this.o = o;
        this.out = out;
        this.timeline = new SoakTimeline(o, out, t0);
        this.faultPlan = new SoakFaults(o.faults, o.seed, true, java.time.Duration.ZERO);
    }

    private String faultSpec() {
        return SoakFaults.format(o.faults);
    }

    private static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | RuntimeException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    private static Map<String, Long> parseStat(String[] f) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 1; i < f.length; i++) {
            int eq = f[i].indexOf('=');
            if (eq > 0) {
                try {
                    m.put(f[i].substring(0, eq), Long.parseLong(f[i].substring(eq + 1)));
                } catch (NumberFormatException ignored) {
                    // not a number: not a gauge
                }
            }
        }
        return m;
    }

    private void onOutcome(Worker w, long id, Out outcome) {
        Req r = requests.get(id);
        if (r == null) {
            return;
        }
        if (w == ctx) {
            r.ctxAtNanos = System.nanoTime();
            r.ctx = outcome;
            if (outcome.status().equals("REJECTED")) {
                gen.send("CANCEL " + id); // the front end withdraws the other half
                backOff();
            }
        } else if (w == gen) {
            r.gen = outcome;
            if (outcome.status().equals("COMPLETED")) {
                timeline.completed(outcome.latencyNanos());
            }
            if (outcome.status().equals("REJECTED")) {
                ctx.send("CANCEL " + id);
                backOff();
            }
        }
    }

    private volatile long backOffUntil;

    /** A rejected request (no free blocks, or a peer that owes a proof and gets no new work): the front end waits a moment. */
    private void backOff() {
        backOffUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    }

    private Path secretFile;

    /** The run's shared secret: 32 random bytes in a file only this user can read, made once per run. */
    synchronized Path secretFile() throws IOException {
        if (secretFile == null) {
            Files.createDirectories(o.reportDir);
            Path f = o.reportDir.resolve("kvx.secret");
            Files.deleteIfExists(f);
            Files.createFile(f, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            byte[] b = new byte[32];
            new java.security.SecureRandom().nextBytes(b);
            Files.writeString(f, java.util.HexFormat.of().formatHex(b));
            secretFile = f;
        }
        return secretFile;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private Worker startGeneration() throws Exception {
        Worker g = new Worker(SoakWorker.Role.GEN, "soak-gen-" + generation++, freePort());
        g.awaitReady(Duration.ofSeconds(60));
        return g;
    }

    private void connect(Worker c, Worker g) throws InterruptedException {
        g.send("CONNECT " + c.name);
        c.send("CONNECT " + g.name + " " + g.port);
        if (!c.connected.await(60, TimeUnit.SECONDS) || !g.connected.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("workers did not connect");
        }
    }

    double elapsed() {
        return timeline.elapsed();
    }

    /** Runs the soak; returns the exit status. */
    int run() throws Exception {
        long blockBytes = o.blockBytes();
        out.printf(Locale.ROOT, "kvx soak: KV shape %d layers x %d KV heads x head %d x %d B, %d tokens/block = %s/block; pool %d blocks (%s) per side;"
                        + " input ~%d tokens (max %d) = ~%d blocks/request; buffers %d per side; kvTransferTimeout %d ms%n",
                o.layers, o.kvHeads, o.headSize, o.dtypeBytes, o.tokensPerBlock, human(blockBytes), o.effectivePoolBlocks(),
                human(blockBytes * o.effectivePoolBlocks()), o.meanInputTokens, o.maxInputTokens,
                (o.meanInputTokens + o.tokensPerBlock - 1) / o.tokensPerBlock, o.buffers, o.timeoutMs);
        out.printf(Locale.ROOT, "phases: warm-up %d s at concurrency %d, burst %d s at %d, idle %d s, %d recovery probes; faults: %s%s%n",
                o.warmupSeconds, o.warmupConcurrency, o.burstSeconds, o.burstConcurrency, o.idleSeconds, o.probes, faultSpec(),
                o.killGenerationAt >= 0 ? "; generation worker killed " + o.killGenerationAt + " s after the load starts" : "");
        out.println("security: " + SoakReport.security(o));
        ctx = new Worker(SoakWorker.Role.CTX, "soak-ctx", freePort());
        ctx.awaitReady(Duration.ofSeconds(60));
        gen = startGeneration();
        connect(ctx, gen);
        SoakHostile hostile = new SoakHostile(o, out, timeline);
        hostile.launch(ctx, () -> gen);
        Thread progress = new Thread(() -> timeline.run(requests.values(), () -> new SoakTimeline.Gauges(phase.name(), ctx.stat, gen.stat)),
                "soak-progress");
        progress.setDaemon(true);
        progress.start();
        SplittableRandom rnd = new SplittableRandom(o.seed);
        long nextId = 1;
        boolean killDone = o.killGenerationAt < 0;
        long loadStart = System.nanoTime();
        try {
            for (Phase p : Phase.values()) {
                phase = p;
                long start = System.nanoTime();
                long end = start + TimeUnit.SECONDS.toNanos(switch (p) {
                    case WARMUP -> o.warmupSeconds;
                    case BURST -> o.burstSeconds;
                    case IDLE -> o.idleSeconds;
                    case PROBES -> 0;
                });
                timeline.event("phase", p + " starts");
                hostile.phase(p, ctx, gen);
                if (p == Phase.PROBES) {
                    for (int i = 0; i < o.probes; i++) {
                        // probes prove the system serves again, so they carry no injected faults
                        Req r = submit(SoakFaults.PROBE_ID_BASE + i, blocksFor(rnd), p);
                        waitDone(List.of(r), TimeUnit.MILLISECONDS.toNanos(o.timeoutMs * 3));
                    }
                } else {
                    int concurrency = p == Phase.WARMUP ? o.warmupConcurrency : p == Phase.BURST ? o.burstConcurrency : 0;
                    while (System.nanoTime() < end) {
                        if (!killDone && System.nanoTime() - loadStart >= (long) (o.killGenerationAt * 1e9)) {
                            killAndReplaceGeneration();
                            killDone = true;
                        }
                        if (inFlight() < concurrency && System.nanoTime() - backOffUntil >= 0) {
                            submit(nextId++, blocksFor(rnd), p);
                        } else {
                            Thread.sleep(1);
                        }
                    }
                }
                phaseWindow.put(p, new long[] {start, System.nanoTime()});
            }
            // Every request must get its outcomes: each side ends every request by its deadline (plus quarantine).
            waitDone(List.copyOf(requests.values()), TimeUnit.MILLISECONDS.toNanos(o.timeoutMs * 4) + TimeUnit.SECONDS.toNanos(10));
            Thread.sleep(600); // one more STAT from each worker after the last outcome
        } finally {
            hostile.close();
            ctx.send("QUIT");
            gen.send("QUIT");
            ctx.bye.await(30, TimeUnit.SECONDS);
            gen.bye.await(30, TimeUnit.SECONDS);
            ctx.process.destroyForcibly();
            gen.process.destroyForcibly();
            progress.interrupt();
        }
        SoakReport report = new SoakReport(o, List.copyOf(requests.values()), phaseWindow, timeline.samples(), timeline.events(),
                ctx.byeLine, gen.byeLine, killNanos, hostile.report());
        return report.write(out);
    }

    private void killAndReplaceGeneration() throws Exception {
        Worker dead = gen;
        timeline.event("kill", String.format(Locale.ROOT, "SIGKILL generation worker %s (pid %d)", dead.name, dead.process.pid()));
        out.printf(Locale.ROOT, "%n!! %.1f s: killing generation worker %s (SIGKILL)%n", elapsed(), dead.name);
        dead.killed = true;
        killNanos = System.nanoTime();
        dead.process.destroyForcibly();
        dead.process.waitFor(10, TimeUnit.SECONDS);
        for (Req r : requests.values()) {
            if (r.gen == null) {
                r.gen = new Out("KILLED", "KILLED", 0, 0, ""); // its generation half died with the process
            }
        }
        Worker fresh = startGeneration();
        gen = fresh;
        connect(ctx, fresh);
        timeline.event("restart", "new generation worker " + fresh.name + " connected");
        out.printf(Locale.ROOT, "!! %.1f s: new generation worker %s connected%n", elapsed(), fresh.name);
    }

    private int blocksFor(SplittableRandom rnd) {
        double tokens = -Math.log(1 - rnd.nextDouble()) * o.meanInputTokens;
        int t = (int) Math.max(1, Math.min(o.maxInputTokens, Math.round(tokens)));
        return (t + o.tokensPerBlock - 1) / o.tokensPerBlock;
    }

    private Req submit(long id, int blocks, Phase p) {
        Req r = new Req(id, blocks, p);
        requests.put(id, r);
        timeline.injected(faultPlan.kindsHitting(id));
        ctx.send("REQ " + id + " " + blocks);
        gen.send("REQ " + id + " " + blocks);
        return r;
    }

    private long inFlight() {
        return requests.values().stream().filter(r -> !r.done()).count();
    }

    private void waitDone(List<Req> rs, long timeoutNanos) throws InterruptedException {
        long end = System.nanoTime() + timeoutNanos;
        while (System.nanoTime() < end && rs.stream().anyMatch(r -> !r.done())) {
            Thread.sleep(10);
        }
    }

    static String human(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        }
        return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
}
