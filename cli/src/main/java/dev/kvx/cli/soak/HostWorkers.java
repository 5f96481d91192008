package dev.kvx.cli.soak;

import dev.kvx.cli.hosts.NetnsHost;
import dev.kvx.cli.hosts.NetnsHosts;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The worker processes of a run across hosts, by name: each runs inside its host's namespace
 * ({@code ip netns exec}), publishes its metadata in etcd and finds its peers there by name. Every decode
 * worker dials every prefill worker ({@code DIAL}); the prefill worker answers after reading the decode
 * worker from etcd ({@code AWAIT}). A killed host's workers come back under the same names and are
 * connected again the same way. A (prefill, decode) pair takes requests while both report the session up.
 */
final class HostWorkers {
    private static final System.Logger LOG = System.getLogger(HostWorkers.class.getName());
    private static final Duration READY = Duration.ofSeconds(90);
    private static final Duration CONNECT = Duration.ofSeconds(60);

    /** One worker name and its current process. */
    static final class Slot {
        final String name;
        final SoakWorker.Role role;
        final String host;
        volatile WorkerProcess process;
        volatile int starts;

        Slot(String name, SoakWorker.Role role, String host) {
            this.name = name;
            this.role = role;
            this.host = host;
        }

        boolean up() {
            WorkerProcess p = process;
            return p != null && !p.killed && p.process.isAlive();
        }
    }

    private final SoakOptions o;
    private final HostsTopology topology;
    private final NetnsHosts hosts;
    private final Map<String, String> env;
    private final WorkerProcess.OutcomeListener listener;
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final Map<String, NetnsHost> killed = new HashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger kills = new java.util.concurrent.atomic.AtomicInteger();
    private final String etcdEndpoint;
    private final String etcdNamespace;

    HostWorkers(SoakOptions o, HostsTopology topology, NetnsHosts hosts, String etcdEndpoint, String etcdNamespace, Map<String, String> env,
                WorkerProcess.OutcomeListener listener) {
        this.o = o;
        this.topology = topology;
        this.hosts = hosts;
        this.etcdEndpoint = etcdEndpoint;
        this.etcdNamespace = etcdNamespace;
        this.env = Map.copyOf(env);
        this.listener = listener;
        topology.prefill().forEach(n -> slots.put(n, new Slot(n, SoakWorker.Role.CTX, topology.hostOf(n))));
        topology.decode().forEach(n -> slots.put(n, new Slot(n, SoakWorker.Role.GEN, topology.hostOf(n))));
    }

    Slot slot(String name) {
        return slots.get(name);
    }

    List<Slot> slots() {
        return List.copyOf(slots.values());
    }

    /** The worker's current process (null before its first start). */
    WorkerProcess process(String name) {
        Slot s = slots.get(name);
        return s == null ? null : s.process;
    }

    /** Starts every worker in its host, then connects every decode worker to every prefill worker. */
    void startAll() throws Exception {
        startIn(slots.values().stream().toList());
        connect(slots.values().stream().toList());
    }

    private void startIn(List<Slot> which) throws IOException, InterruptedException {
        for (Slot s : which) {
            NetnsHost host = hosts.host(s.host);
            s.starts++;
            String logName = s.name + (s.starts > 1 ? "-" + s.starts : "");
            Map<String, String> e = new HashMap<>(env);
            e.put("UCX_LOG_FILE", o.reportDir.toAbsolutePath().resolve(logName + ".ucx.log").toString());
            List<String> args = SoakWorker.etcdArguments(s.role, s.name, etcdEndpoint, etcdNamespace, o);
            s.process = new WorkerProcess(s.role, s.name, -1, hosts.command(host, List.of()), args, e,
                    o.reportDir.resolve(logName + ".log"), listener);
        }
        for (Slot s : which) {
            s.process.awaitReady(READY);
        }
    }

    /**
     * Connects the given (fresh) workers with their counterparts: decode workers dial prefill workers by
     * name; the prefill side awaits them. Waits until every such pair is up.
     */
    private void connect(List<Slot> fresh) throws InterruptedException {
        List<String[]> pairs = new ArrayList<>();
        for (String p : topology.prefill()) {
            for (String d : topology.decode()) {
                Slot ps = slots.get(p);
                Slot ds = slots.get(d);
                if ((fresh.contains(ps) || fresh.contains(ds)) && ps.up() && ds.up()) {
                    pairs.add(new String[] {p, d});
                }
            }
        }
        for (String[] pd : pairs) {
            WorkerProcess pp = slots.get(pd[0]).process;
            WorkerProcess dp = slots.get(pd[1]).process;
            pp.peers.remove(pd[1]); // a session with an earlier incarnation does not count
            dp.peers.remove(pd[0]);
            pp.send("AWAIT " + pd[1]);
            dp.send("DIAL " + pd[0]);
        }
        long deadline = System.nanoTime() + CONNECT.toNanos();
        while (!pairs.stream().allMatch(pd -> pairUp(pd[0], pd[1]))) {
            if (System.nanoTime() - deadline > 0) {
                List<String> missing = pairs.stream().filter(pd -> !pairUp(pd[0], pd[1])).map(pd -> pd[0] + "<-" + pd[1]).toList();
                throw new IllegalStateException("workers did not connect through etcd within " + CONNECT.toSeconds() + " s: " + missing
                        + "; see their logs in " + o.reportDir);
            }
            Thread.sleep(20);
        }
    }

    /** Whether both workers are up and each reported the session with the other. */
    boolean pairUp(String prefill, String decode) {
        Slot p = slots.get(prefill);
        Slot d = slots.get(decode);
        return p.up() && d.up() && p.process.peers.contains(decode) && d.process.peers.contains(prefill);
    }

    /**
     * Kills a host as a power loss would (its cable first, then every process in it, then its namespace).
     *
     * @return the workers that died with it
     */
    List<String> killHost(String hostName) {
        NetnsHost host = hosts.host(hostName);
        List<String> dead = topology.workersIn(hostName);
        dead.forEach(n -> {
            WorkerProcess p = slots.get(n).process;
            if (p != null) {
                p.killed = true; // what it still has in its pipe is not read: its requests are accounted for by the driver
            }
        });
        hosts.kill(host);
        synchronized (killed) {
            killed.put(hostName, host);
        }
        kills.incrementAndGet();
        return dead;
    }

    /** How many hosts were killed so far (the driver looks for the requests of killed workers when it changes). */
    int kills() {
        return kills.get();
    }

    /** Brings a killed host back and restarts its workers under the same names; returns once they are connected again. */
    void reviveHost(String hostName) throws Exception {
        NetnsHost host;
        synchronized (killed) {
            host = killed.remove(hostName);
        }
        if (host == null) {
            throw new IllegalStateException("host " + hostName + " was not killed");
        }
        hosts.revive(host);
        List<Slot> fresh = topology.workersIn(hostName).stream().map(slots::get).toList();
        startIn(fresh);
        connect(fresh);
    }

    /** The workers' gauges, summed per side ({@code CTX} or {@code GEN}). */
    Map<String, Long> gauges(SoakWorker.Role role) {
        Map<String, Long> sum = new HashMap<>();
        for (Slot s : slots.values()) {
            if (s.role == role && s.up()) {
                s.process.stat.forEach((k, v) -> sum.merge(k, v, Long::sum));
            }
        }
        return sum;
    }

    /** Tells every live worker to quit and waits for their closing lines. */
    void quitAll() throws InterruptedException {
        slots.values().stream().filter(Slot::up).forEach(s -> s.process.send("QUIT"));
        for (Slot s : slots.values()) {
            if (s.process != null) {
                s.process.awaitBye(Duration.ofSeconds(30));
            }
        }
    }

    /** The closing lines of the workers of one side that were alive at the end. */
    List<String> byes(SoakWorker.Role role) {
        return slots.values().stream().filter(s -> s.role == role && s.process != null && !s.process.killed)
                .map(s -> s.process.byeLine).toList();
    }

    /** Makes sure no worker process is left (after a failure). */
    void destroyAll() {
        for (Slot s : slots.values()) {
            WorkerProcess p = s.process;
            if (p != null) {
                p.process.destroyForcibly();
                try {
                    p.process.waitFor(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
        LOG.log(System.Logger.Level.DEBUG, "worker processes gone");
    }
}
