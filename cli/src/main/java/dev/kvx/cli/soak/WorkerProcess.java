package dev.kvx.cli.soak;

import dev.kvx.cli.Main;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One {@code kvx worker} process of a soak run, driven over its stdin and read from its stdout
 * ({@link SoakWorker} speaks the protocol): it keeps the worker's last gauges ({@code STAT}) and its
 * closing line ({@code BYE}), and hands every outcome line to the driver. Its stderr (NIXL and UCX logs,
 * stack traces) goes to a file that failure messages point at.
 */
final class WorkerProcess {
    private static final System.Logger LOG = System.getLogger(WorkerProcess.class.getName());

    /** Where a worker's outcome lines go. */
    interface OutcomeListener {
        void outcome(WorkerProcess from, long requestId, SoakRequest.Out outcome);
    }

    final SoakWorker.Role role;
    final String name;
    final int port;
    final Process process;
    final Path log;
    private final PrintWriter stdin;
    private final OutcomeListener listener;
    final CountDownLatch ready = new CountDownLatch(1);
    final CountDownLatch connected = new CountDownLatch(1);
    final CountDownLatch bye = new CountDownLatch(1);
    /** Peers this worker reported a live session with ({@code CONNECTED <peer> true}). */
    final Set<String> peers = ConcurrentHashMap.newKeySet();
    volatile Map<String, Long> stat = Map.of();
    volatile String byeLine = "";
    volatile boolean killed;
    /** When this process was started (System.nanoTime): requests submitted before went to an earlier one of the same name. */
    final long startNanos = System.nanoTime();

    /**
     * Starts the worker.
     *
     * @param prefix what goes before the java command (e.g. {@code ip netns exec <ns>}), or empty
     * @param workerArgs the arguments after {@code kvx} ({@link SoakWorker#arguments})
     * @param env extra environment (the secret file, UCX and NIXL settings)
     */
    WorkerProcess(SoakWorker.Role role, String name, int port, List<String> prefix, List<String> workerArgs, Map<String, String> env,
                  Path log, OutcomeListener listener) throws IOException {
        this.role = role;
        this.name = name;
        this.port = port;
        this.log = log;
        this.listener = listener;
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(javaCommand());
        cmd.addAll(workerArgs);
        LOG.log(System.Logger.Level.DEBUG, "starting {0} worker: {1}", role, cmd);
        Files.createDirectories(log.toAbsolutePath().getParent());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.to(log.toFile()));
        pb.environment().putIfAbsent("NIXL_LOG_LEVEL", "ERROR");
        pb.environment().putIfAbsent("UCX_LOG_LEVEL", "FATAL"); // a killed peer makes UCX log connect errors
        pb.environment().putAll(env);
        this.process = pb.start();
        this.stdin = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread reader = new Thread(this::read, "soak-read-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** This JVM's java with the native-access flag, the native folder and class path, running kvx's main class. */
    static List<String> javaCommand() {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx1g"));
        String nativeDir = System.getProperty("kvx.native.dir");
        if (nativeDir != null) {
            cmd.add("-Dkvx.native.dir=" + nativeDir);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        return cmd;
    }

    /** Waits for READY; a worker that exits or stays silent is reported with its exit status and the end of its log. */
    void awaitReady(Duration limit) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!ready.await(100, TimeUnit.MILLISECONDS)) {
            if (!process.isAlive() || System.nanoTime() > end) {
                String why = process.isAlive() ? "did not say READY within " + limit.toSeconds() + " s"
                        : "exited with status " + process.exitValue();
                process.destroyForcibly();
                throw new IllegalStateException(role.name().toLowerCase(Locale.ROOT) + " worker " + name + " " + why + "; its log " + log
                        + " ends with:\n" + tail(log, 15) + "\n(run './kvx doctor' to check the native libraries)");
            }
        }
    }

    /** Sends one command line (nothing once the worker was killed). */
    void send(String line) {
        if (!killed) {
            stdin.println(line);
        }
    }

    /** Waits (bounded) for the BYE that answers QUIT, then makes sure the process is gone. */
    void awaitBye(Duration limit) throws InterruptedException {
        if (!killed) {
            bye.await(limit.toMillis(), TimeUnit.MILLISECONDS);
        }
        process.destroyForcibly();
    }

    private void read() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (killed) {
                    continue; // lines a killed worker left in its pipe: its requests were already accounted for
                }
                String[] f = line.split(" ");
                switch (f[0]) {
                    case "READY" -> ready.countDown();
                    case "CONNECTED" -> {
                        if (f.length < 3 || Boolean.parseBoolean(f[2])) {
                            peers.add(f.length > 1 ? f[1] : "");
                        }
                        connected.countDown();
                    }
                    case "STAT" -> stat = parseStat(f);
                    case "OUT" -> listener.outcome(this, Long.parseLong(f[1]),
                            new SoakRequest.Out(f[2], f[3], Long.parseLong(f[4]), Integer.parseInt(f[5]), f.length > 6 ? f[6] : ""));
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

    static Map<String, Long> parseStat(String[] f) {
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

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | RuntimeException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    @Override
    public String toString() {
        return name + " (" + role.name().toLowerCase(Locale.ROOT) + ", pid " + process.pid() + ")";
    }
}
