package dev.kvx.cli.soak;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvx soak}: a context and a generation worker as two JVM processes talking through real NIXL
 * (UCX) on loopback, with this process as the serving front end ({@link SoakLoad}). Phases: warm-up,
 * burst, idle, recovery probes; faults as configured; optionally the generation worker is killed
 * mid-burst and replaced. Prints a status line each second and a report at the end; exit status 0 only
 * if every request got exactly one outcome on each live side, nothing leaked and every probe completed.
 * {@link HostsSoakDriver} is the same across network-namespace hosts.
 */
final class SoakDriver implements SoakLoad.Front {
    private final SoakOptions o;
    private final PrintWriter out;
    private final Map<Long, SoakRequest> requests = new ConcurrentHashMap<>();
    private final SoakTimeline timeline;
    private final SoakFaults faultPlan;
    private volatile WorkerProcess ctx;
    private volatile WorkerProcess gen;
    private volatile SoakPhase phase = SoakPhase.WARMUP;
    private SoakHostile hostile;
    private volatile long killNanos;
    private volatile long backOffUntil;
    private boolean killDone;
    private Path secretFile;
    private int generation = 1;

    SoakDriver(SoakOptions o, PrintWriter out) {
        this.o = o;
        this.out = out;
        this.timeline = new SoakTimeline(o, out, System.nanoTime());
        this.faultPlan = new SoakFaults(o.faults, o.seed, true, Duration.ZERO);
        this.killDone = o.killGenerationAt < 0;
    }

    private void onOutcome(WorkerProcess w, long id, SoakRequest.Out outcome) {
        SoakRequest r = requests.get(id);
        if (r == null) {
            return;
        }
        if (w == ctx) {
            r.ctxOutcome(outcome);
            if (outcome.status().equals("REJECTED")) {
                gen.send("CANCEL " + id); // the front end withdraws the other half
                backOff();
            }
        } else if (w == gen) {
            r.genOutcome(outcome);
            if (outcome.status().equals("COMPLETED")) {
                timeline.completed(outcome.latencyNanos());
            }
            if (outcome.status().equals("REJECTED")) {
                ctx.send("CANCEL " + id);
                backOff();
            }
        }
    }

    /** A rejected request (no free blocks, or a peer that owes a proof and gets no new work): the front end waits a moment. */
    private void backOff() {
        backOffUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    }

    @Override
    public boolean admitting() {
        return System.nanoTime() - backOffUntil >= 0;
    }

    @Override
    public void phase(SoakPhase p) throws InterruptedException {
        phase = p;
        hostile.phase(p, ctx, gen);
    }

    @Override
    public SoakTimeline.Gauges gauges() {
        return new SoakTimeline.Gauges(phase.name(), ctx.stat, gen.stat);
    }

    /** The run's shared secret, made once per run. */
    private synchronized Path secretFile() throws IOException {
        if (secretFile == null) {
            secretFile = SoakSecret.create(o.reportDir);
        }
        return secretFile;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private WorkerProcess startWorker(SoakWorker.Role role, String name) throws Exception {
        int port = freePort();
        WorkerProcess w = new WorkerProcess(role, name, port, List.of(), SoakWorker.arguments(role, name, port, o),
                Map.of("KVX_SECRET_FILE", secretFile().toString()), // the secret never on a command line
                o.reportDir.resolve(name + ".log"), this::onOutcome);
        w.awaitReady(Duration.ofSeconds(60));
        return w;
    }

    private void connect(WorkerProcess c, WorkerProcess g) throws InterruptedException {
        g.send("CONNECT " + c.name);
        c.send("CONNECT " + g.name + " " + g.port);
        if (!c.connected.await(60, TimeUnit.SECONDS) || !g.connected.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("workers did not connect");
        }
    }

    /** Runs the soak; returns the exit status. */
    int run() throws Exception {
        SoakReport.printHeader(o, out, o.killGenerationAt >= 0 ? "; generation worker killed " + o.killGenerationAt
                + " s after the load starts" : "");
        ctx = startWorker(SoakWorker.Role.CTX, "soak-ctx");
        gen = startWorker(SoakWorker.Role.GEN, "soak-gen-" + generation++);
        connect(ctx, gen);
        hostile = new SoakHostile(o, out, timeline);
        hostile.launch(ctx, () -> gen);
        Thread progress = new Thread(() -> timeline.run(requests.values(), this::gauges), "soak-progress");
        progress.setDaemon(true);
        progress.start();
        Map<SoakPhase, long[]> windows;
        try {
            windows = new SoakLoad(o, out, timeline, requests).run(this);
        } finally {
            hostile.close();
            ctx.send("QUIT");
            gen.send("QUIT");
            ctx.awaitBye(Duration.ofSeconds(30));
            gen.awaitBye(Duration.ofSeconds(30));
            progress.interrupt();
        }
        SoakReport report = new SoakReport(o, List.copyOf(requests.values()), windows, timeline.samples(), timeline.events(),
                List.of(ctx.byeLine), List.of(gen.byeLine), killNanos);
        return report.withHostile(hostile.report()).write(out);
    }

    @Override
    public void tick(long sinceLoadStartNanos) throws Exception {
        if (!killDone && sinceLoadStartNanos >= (long) (o.killGenerationAt * 1e9)) {
            killDone = true;
            killAndReplaceGeneration();
        }
    }

    private void killAndReplaceGeneration() throws Exception {
        WorkerProcess dead = gen;
        timeline.event("kill", String.format(Locale.ROOT, "SIGKILL generation worker %s (pid %d)", dead.name, dead.process.pid()));
        out.printf(Locale.ROOT, "%n!! %.1f s: killing generation worker %s (SIGKILL)%n", timeline.elapsed(), dead.name);
        dead.killed = true;
        killNanos = System.nanoTime();
        dead.process.destroyForcibly();
        dead.process.waitFor(10, TimeUnit.SECONDS);
        for (SoakRequest r : requests.values()) {
            if (r.gen == null) {
                r.genOutcome(SoakRequest.Out.KILLED); // its generation half died with the process
            }
        }
        WorkerProcess fresh = startWorker(SoakWorker.Role.GEN, "soak-gen-" + generation++);
        gen = fresh;
        connect(ctx, fresh);
        timeline.event("restart", "new generation worker " + fresh.name + " connected");
        out.printf(Locale.ROOT, "!! %.1f s: new generation worker %s connected%n", timeline.elapsed(), fresh.name);
    }

    @Override
    public SoakRequest submit(long id, int blocks, SoakPhase p) {
        SoakRequest r = new SoakRequest(id, blocks, p, ctx.name, gen.name);
        requests.put(id, r);
        timeline.injected(faultPlan.kindsHitting(id));
        ctx.send("REQ " + id + " " + blocks);
        gen.send("REQ " + id + " " + blocks);
        return r;
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
