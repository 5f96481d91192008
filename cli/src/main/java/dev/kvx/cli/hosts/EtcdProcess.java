package dev.kvx.cli.hosts;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real etcd server (v3 API, what NIXL's etcd client needs) running inside one namespace host,
 * listening on that host's address and its loopback, with its data in a temp folder that
 * {@link #close()} deletes. {@link #stop()} and {@link #start()} restart it on the same data (keys
 * survive); {@link #wipe()} restarts it empty. A shutdown hook stops it and deletes the folder on
 * normal exit and Ctrl-C as well.
 */
public final class EtcdProcess implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(EtcdProcess.class.getName());
    /** The client port inside the etcd host. */
    public static final int CLIENT_PORT = 2379;
    private static final Duration START_DEADLINE = Duration.ofSeconds(30);
    private final NetnsHosts hosts;
    private final NetnsHost host;
    private final String binary;
    private final Path dir;
    private final Thread shutdownHook = new Thread(this::closeQuietly, "kvx-etcd-cleanup");
    private Process process;

    private EtcdProcess(NetnsHosts hosts, NetnsHost host, String binary, Path dir) {
        this.hosts = hosts;
        this.host = host;
        this.binary = binary;
        this.dir = dir;
    }

    /**
     * The etcd binary: {@code $KVX_ETCD}, else {@code etcd} on PATH.
     *
     * @throws IllegalStateException naming {@code ci/provision-etcd.sh}, which installs Debian's etcd-server
     */
    public static String findBinary() {
        String env = System.getenv("KVX_ETCD");
        if (env != null && !env.isBlank()) {
            return env;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, "etcd");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalStateException("no etcd on PATH (and KVX_ETCD unset); run ci/provision-etcd.sh, which "
                + "installs Debian's etcd-server, or set KVX_ETCD to an etcd 3.4+ binary");
    }

    /** Starts etcd in {@code host} and waits (30 s) until it answers its health check there. */
    public static EtcdProcess start(NetnsHosts hosts, NetnsHost host, String binary) {
        Path dir;
        try {
            dir = Files.createTempDirectory("kvx-etcd-" + host.name());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create etcd's data folder", e);
        }
        EtcdProcess etcd = new EtcdProcess(hosts, host, binary, dir);
        Runtime.getRuntime().addShutdownHook(etcd.shutdownHook);
        try {
            etcd.start();
        } catch (RuntimeException e) {
            etcd.close();
            throw e;
        }
        return etcd;
    }

    /** {@code http://<host address>:2379}, the value for {@code NIXL_ETCD_ENDPOINTS}. */
    public String endpoint() {
        return "http://" + host.address() + ":" + CLIENT_PORT;
    }

    /** The host etcd runs in. */
    public NetnsHost host() {
        return host;
    }

    /** Starts the server on its data folder (no-op while it runs) and waits until healthy. */
    public synchronized void start() {
        if (process != null && process.isAlive()) {
            return;
        }
        String client = endpoint() + ",http://127.0.0.1:" + CLIENT_PORT;
        String peer = "http://127.0.0.1:2380";
        try {
            process = hosts.processBuilder(host, List.of(binary, "--name", "kvx", "--data-dir", dir.resolve("data").toString(),
                    "--listen-client-urls", client, "--advertise-client-urls", endpoint(), "--listen-peer-urls", peer,
                    "--initial-advertise-peer-urls", peer, "--initial-cluster", "kvx=" + peer))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("etcd.log").toFile()))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + binary + " in " + host, e);
        }
        long deadline = System.nanoTime() + START_DEADLINE.toNanos();
        while (!healthy()) {
            if (!process.isAlive() || System.nanoTime() - deadline > 0) {
                String log = readLog();
                stop();
                throw new IllegalStateException("etcd did not become healthy in " + host + " within " + START_DEADLINE
                        + "; its log ends:\n" + log.substring(Math.max(0, log.length() - 2000)));
            }
            sleep(100);
        }
        LOG.log(System.Logger.Level.INFO, "etcd up at {0} in {1} (data {2})", endpoint(), host, dir);
    }

    /** Whether etcd answers {@code GET /health} with healthy, asked from inside its host (2 s limit). */
    public boolean healthy() {
        NetCommand.Result r = hosts.exec(host, List.of("timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/" + host.address()
                + "/" + CLIENT_PORT + " && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"));
        return r.exit() == 0 && r.output().contains("\"health\":\"true\"");
    }

    /**
     * The keys under {@code prefix}, read with {@code etcdctl} (Debian's etcd-client, installed by
     * {@code ci/provision-etcd.sh}) from inside etcd's host; for checking that a publish or a
     * withdrawal reached etcd (NIXL only logs failures).
     */
    public List<String> keys(String prefix) {
        NetCommand.Result r = hosts.exec(host, List.of(etcdctl(), "--endpoints=127.0.0.1:" + CLIENT_PORT,
                "--command-timeout=3s", "get", "--prefix", prefix, "--keys-only"));
        if (r.exit() != 0) {
            throw new IllegalStateException("etcdctl get --prefix " + prefix + " failed: " + r.output());
        }
        return r.output().lines().filter(l -> !l.isBlank()).toList();
    }

    private String etcdctl() {
        Path beside = Path.of(binary).resolveSibling("etcdctl");
        if (Files.isExecutable(beside)) {
            return beside.toString();
        }
        return "etcdctl";
    }

    /** Stops the server (SIGTERM, then SIGKILL after 10 s); its data stays. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    /** Stops the server, deletes its data, starts it empty (every published key is gone). */
    public synchronized void wipe() {
        stop();
        deleteTree(dir.resolve("data"));
        start();
    }

    /** The server's own log so far. */
    public String readLog() {
        try {
            return Files.readString(dir.resolve("etcd.log"));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** The running server's process, if any. */
    public synchronized Optional<ProcessHandle> handle() {
        return process == null ? Optional.empty() : Optional.of(process.toHandle());
    }

    /** Stops the server and deletes its data folder. */
    @Override
    public void close() {
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs this too, harmlessly
            }
        }
        closeQuietly();
    }

    private void closeQuietly() {
        stop();
        deleteTree(dir);
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not delete " + root, e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for etcd", e);
        }
    }
}
