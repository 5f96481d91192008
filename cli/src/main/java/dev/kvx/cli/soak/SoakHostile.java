package dev.kvx.cli.soak;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvx soak --hostile-peer}: the third process. It is started once the workers are connected
 * ({@code kvx hostile --wait-go}, without the secret: neither {@code KVX_SECRET_FILE} nor {@code KVX_SECRET}
 * reaches it), handed each worker's control address, NIXL metadata and captured frames (as if they had
 * leaked), attacks both workers from the start of the burst to its end, and says what it sent. The workers'
 * own counters say what they refused; {@link HostileReport} puts both in the report. Without
 * {@code --hostile-peer} every method does nothing.
 */
final class SoakHostile implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SoakHostile.class.getName());
    private final SoakOptions o;
    private final PrintWriter out;
    private final SoakTimeline timeline;
    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch done = new CountDownLatch(1);
    private final Map<Long, String> ports = new ConcurrentHashMap<>();
    private final List<WorkerProcess> victims = new ArrayList<>();
    private volatile String doneLine = "";
    private volatile boolean secretGiven;
    private Process process;
    private PrintWriter stdin;
    private Path log;
    private long goNanos;
    private long endNanos;

    SoakHostile(SoakOptions o, PrintWriter out, SoakTimeline timeline) {
        this.o = o;
        this.out = out;
        this.timeline = timeline;
    }

    /** The worker options that hand its metadata and frames to the hostile peer (none without {@code --hostile-peer}). */
    static List<String> workerArguments(SoakWorker.Role role, SoakOptions o) {
        return o.hostilePeer ? List.of("--metadata-out=" + file(o, role, "metadata"), "--wire-out=" + file(o, role, "wire")) : List.of();
    }

    /** Per role, not per worker: a restarted worker replaces its predecessor's file, and the hostile peer reloads it. */
    private static Path file(SoakOptions o, SoakWorker.Role role, String what) {
        return o.reportDir.resolve("hostile-" + role.name().toLowerCase(Locale.ROOT) + "." + what).toAbsolutePath();
    }

    /**
     * Starts the hostile process against the connected workers; it waits for {@link #phase} to say the burst began.
     * {@code generation} is the driver's current generation worker: one that replaces a killed one is handed to the
     * hostile peer as soon as it is connected.
     */
    void launch(WorkerProcess ctx, java.util.function.Supplier<WorkerProcess> generation) throws IOException {
        if (!o.hostilePeer) {
            return;
        }
        WorkerProcess gen = generation.get();
        List<String> cmd = new ArrayList<>(WorkerProcess.javaCommand());
        List<Path> metadata = List.of(file(o, SoakWorker.Role.CTX, "metadata"), file(o, SoakWorker.Role.GEN, "metadata"));
        cmd.addAll(HostilePeer.arguments(List.of(new InetSocketAddress("127.0.0.1", ctx.port), new InetSocketAddress("127.0.0.1", gen.port)),
                metadata, o.burstSeconds + 10, o.hostileRate));
        cmd.addAll(List.of("--wait-go", "--seed=" + o.seed, "--wire=" + file(o, SoakWorker.Role.CTX, "wire"),
                "--wire=" + file(o, SoakWorker.Role.GEN, "wire"), "--victim-pid=" + ctx.process.pid(), "--victim-pid=" + gen.process.pid()));
        log = o.reportDir.resolve("hostile.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.to(log.toFile()));
        pb.environment().remove("KVX_SECRET_FILE"); // it attacks without the secret
        pb.environment().remove("KVX_SECRET");
        pb.environment().putIfAbsent("NIXL_LOG_LEVEL", "ERROR");
        pb.environment().putIfAbsent("UCX_LOG_LEVEL", "FATAL");
        LOG.log(System.Logger.Level.DEBUG, "starting the hostile peer: {0}", cmd);
        process = pb.start();
        stdin = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("soak-read-hostile").start(this::read);
        Thread.ofPlatform().daemon().name("soak-hostile-victims").start(() -> follow(generation));
    }

    /** Hands every new, connected generation worker to the hostile peer while it attacks. */
    private void follow(java.util.function.Supplier<WorkerProcess> generation) {
        while (process.isAlive()) {
            WorkerProcess g = generation.get();
            synchronized (this) {
                if (goNanos != 0 && endNanos == 0 && !victims.contains(g) && g.connected.getCount() == 0) {
                    victims.add(g);
                    stdin.println("VICTIM 127.0.0.1:" + g.port + " " + g.process.pid());
                }
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void read() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("HOSTILE READY")) {
                    secretGiven = !line.contains(" secret=none");
                    ready.countDown();
                } else if (line.startsWith("HOSTILE PORTS ")) {
                    String[] kv = line.substring(14).split("=", 2);
                    ports.put(Long.parseLong(kv[0]), kv.length > 1 ? kv[1] : "");
                } else if (line.startsWith("HOSTILE DONE")) {
                    doneLine = line;
                    done.countDown();
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process went away: the report says what it last said
        }
        ready.countDown();
        done.countDown();
    }

    /** Called as each phase starts: the attack begins with the burst and ends with it. */
    void phase(SoakPhase p, WorkerProcess ctx, WorkerProcess gen) throws InterruptedException {
        if (process == null) {
            return;
        }
        if (p == SoakPhase.BURST) {
            if (!ready.await(60, TimeUnit.SECONDS) || !process.isAlive()) {
                throw new IllegalStateException("the hostile peer did not get ready; its log " + log + " ends with:\n" + WorkerProcess.tail(log, 15));
            }
            synchronized (this) {
                victims.add(ctx);
                victims.add(gen);
                stdin.println("GO");
                goNanos = System.nanoTime();
            }
            timeline.event("hostile", "the hostile peer attacks both workers");
            out.printf(Locale.ROOT, "%n!! %.1f s: the hostile peer (pid %d, no secret) attacks both workers%n", timeline.elapsed(), process.pid());
        } else if (p == SoakPhase.IDLE || p == SoakPhase.PROBES) {
            stop(ctx, gen);
        }
    }

    private void stop(WorkerProcess ctx, WorkerProcess gen) throws InterruptedException {
        if (goNanos == 0 || endNanos != 0) {
            return;
        }
        synchronized (this) {
            for (WorkerProcess w : List.of(ctx, gen)) {
                if (!victims.contains(w)) {
                    victims.add(w); // the generation worker that replaced a killed one
                }
            }
            stdin.println("QUIT");
        }
        if (!done.await(60, TimeUnit.SECONDS)) {
            LOG.log(System.Logger.Level.WARNING, "the hostile peer did not say what it sent within 60 s");
        }
        synchronized (this) {
            endNanos = System.nanoTime();
        }
        process.waitFor(10, TimeUnit.SECONDS);
        timeline.event("hostile", "the hostile peer stopped");
        out.printf(Locale.ROOT, "!! %.1f s: the hostile peer stopped (exit status %s)%n", timeline.elapsed(),
                process.isAlive() ? "none yet" : String.valueOf(process.exitValue()));
    }

    /** The report's section, or null without {@code --hostile-peer}. Call after the workers said BYE (or died). */
    synchronized HostileReport report() {
        if (process == null) {
            return null;
        }
        Map<String, Map<String, Long>> figures = new LinkedHashMap<>();
        Map<String, String> listening = new LinkedHashMap<>();
        for (WorkerProcess w : victims) {
            figures.put(w.name, w.stat); // BYE's figures, or a killed worker's last STAT
            String l = ports.get(w.process.pid());
            listening.put(w.name, l == null ? "(not read: it started after the hostile peer)" : java.util.Arrays.stream(l.split(","))
                    .map(a -> a + (a.endsWith(":" + w.port) ? " (kvx control channel)" : " (UCX)")).collect(java.util.stream.Collectors.joining(", ")));
        }
        return new HostileReport(o, doneLine, secretGiven, process.isAlive() ? -1 : process.exitValue(), figures, listening, goNanos,
                endNanos == 0 ? System.nanoTime() : endNanos, victims.stream().filter(w -> w.role == SoakWorker.Role.GEN).count());
    }

    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            stdin.println("QUIT");
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
