package dev.kvx.cli.soak;

import dev.kvx.cli.Main;
import dev.kvx.cli.hosts.EtcdProcess;
import dev.kvx.cli.hosts.HostsUnavailableException;
import dev.kvx.cli.hosts.NetnsHosts;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvx soak --hosts N}: the soak across network-namespace hosts ({@link NetnsHosts}). etcd runs
 * in a host of its own ({@link EtcdProcess}); prefill and decode workers run in theirs
 * ({@link HostWorkers}), publish their NIXL metadata in etcd and find each other there by name; UCX
 * moves the data over TCP across the bridge. This process is the front end: it spreads requests over
 * every (prefill, decode) pair that is up, each pair getting its share of the concurrency, so a pair
 * whose link is cut holds only its own requests. Cross-host faults ({@link CrossHostFaults}) run during
 * the load; every one has ended before the recovery probes, which go to every pair. The report adds
 * hosts, peers, UCX lanes and the faults with the requests they touched ({@link HostsReport}).
 * Everything made (namespaces, bridge, etcd and its data, worker processes) is removed at the end, after
 * a failure and on Ctrl-C.
 */
final class HostsSoakDriver implements SoakLoad.Front {
    private final SoakOptions o;
    private final PrintWriter out;
    private final HostsTopology topology;
    private final Map<Long, SoakRequest> requests = new ConcurrentHashMap<>();
    private final SoakTimeline timeline;
    private final SoakFaults faultPlan;
    private final List<String[]> pairs = new ArrayList<>();
    private volatile SoakPhase phase = SoakPhase.WARMUP;
    private volatile long backOffUntil;
    private HostWorkers workers;
    private CrossHostFaults faults;
    private boolean faultsStarted;
    private int killsSeen;
    private long lookForKilledUntil = System.nanoTime();
    private int cursor;

    HostsSoakDriver(SoakOptions o, PrintWriter out) {
        this.o = o;
        this.out = out;
        this.topology = o.topology;
        this.timeline = new SoakTimeline(o, out, System.nanoTime());
        this.faultPlan = new SoakFaults(o.faults, o.seed, true, Duration.ZERO);
        for (String p : topology.prefill()) {
            for (String d : topology.decode()) {
                pairs.add(new String[] {p, d});
            }
        }
        o.probes = Math.max(o.probes, pairs.size()); // the probes reach every pair
    }

    /** Runs the soak across hosts; returns the exit status (2 where namespaces or etcd are not available here). */
    int run() throws Exception {
        String etcdBinary;
        try {
            etcdBinary = EtcdProcess.findBinary();
        } catch (IllegalStateException e) {
            out.println("kvx soak --hosts: " + e.getMessage());
            return Main.USAGE;
        }
        SoakReport.printHeader(o, out, "");
        out.printf(Locale.ROOT, "hosts: %s; UCX_TLS=%s; cross-host faults: %s%n", topology, o.hostsOptions.ucxTls, o.hostFaults);
        NetnsHosts hosts;
        try {
            hosts = NetnsHosts.create(topology.namespaces());
        } catch (HostsUnavailableException e) {
            out.println("kvx soak --hosts: " + e.getMessage());
            return Main.USAGE;
        }
        Thread interrupted = new Thread(() -> out.println("kvx soak --hosts: interrupted; removing the hosts, etcd and the workers"),
                "kvx-soak-interrupted");
        Runtime.getRuntime().addShutdownHook(interrupted);
        try (hosts; EtcdProcess etcd = EtcdProcess.start(hosts, hosts.host(HostsTopology.ETCD_HOST), etcdBinary)) {
            String namespace = "/kvx/soak/" + ProcessHandle.current().pid();
            Path secret = SoakSecret.create(o.reportDir);
            Map<String, String> env = new HashMap<>();
            env.put("KVX_SECRET_FILE", secret.toAbsolutePath().toString()); // never on a command line
            env.put("UCX_TLS", o.hostsOptions.ucxTls);
            env.put("UCX_PROTO_INFO", "y"); // the lanes UCX picks, in each worker's UCX log
            env.put("UCX_LOG_LEVEL", "info");
            out.printf(Locale.ROOT, "etcd %s in host %s (namespace %s); workers publish under %s%n", etcd.endpoint(), etcd.host(),
                    etcd.host().namespace(), namespace);
            workers = new HostWorkers(o, topology, hosts, etcd.endpoint(), namespace, env, this::onOutcome);
            faults = new CrossHostFaults(o, hosts, etcd, workers, timeline, out);
            Thread progress = new Thread(() -> timeline.run(requests.values(), this::gauges), "soak-progress");
            progress.setDaemon(true);
            Map<SoakPhase, long[]> windows;
            try {
                workers.startAll();
                timeline.event("restart", "every worker connected through etcd: " + pairs.size() + " (prefill, decode) pairs");
                out.printf(Locale.ROOT, "%.1f s: %d workers up in %d hosts, %d pairs connected through etcd%n", timeline.elapsed(),
                        workers.slots().size(), topology.hosts().size(), pairs.size());
                progress.start();
                windows = new SoakLoad(o, out, timeline, requests).run(this);
            } finally {
                progress.interrupt();
                faults.close();
                workers.quitAll();
                workers.destroyAll();
            }
            HostsReport hostsReport = new HostsReport(o, hosts, etcd, namespace, workers, faults.records(), List.copyOf(requests.values()),
                    timeline);
            SoakReport report = new SoakReport(o, List.copyOf(requests.values()), windows, timeline.samples(), timeline.events(),
                    workers.byes(SoakWorker.Role.CTX), workers.byes(SoakWorker.Role.GEN), 0);
            return report.withHosts(hostsReport).write(out);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(interrupted);
            } catch (IllegalStateException e) {
                // shutting down: the message is printed
            }
        }
    }

    private void onOutcome(WorkerProcess w, long id, SoakRequest.Out outcome) {
        SoakRequest r = requests.get(id);
        if (r == null || w != workers.process(w.name)) {
            return;
        }
        boolean ctx = w.role == SoakWorker.Role.CTX;
        if (!w.name.equals(ctx ? r.ctxWorker : r.genWorker)) {
            return;
        }
        if (ctx) {
            r.ctxOutcome(outcome);
        } else {
            r.genOutcome(outcome);
            if (outcome.status().equals("COMPLETED")) {
                timeline.completed(outcome.latencyNanos());
            }
        }
        if (outcome.status().equals("REJECTED")) {
            WorkerProcess other = workers.process(ctx ? r.genWorker : r.ctxWorker);
            if (other != null) {
                other.send("CANCEL " + id); // the front end withdraws the other half
            }
            backOffUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
        }
    }

    @Override
    public boolean admitting() {
        return System.nanoTime() - backOffUntil >= 0;
    }

    @Override
    public void phase(SoakPhase p) {
        phase = p;
    }

    @Override
    public void tick(long sinceLoadStartNanos) {
        if (!faultsStarted) {
            faultsStarted = true;
            faults.start(System.nanoTime() - sinceLoadStartNanos);
        }
        // a killed worker's halves that never reported end as KILLED (its host is gone, and the process with it);
        // looked for during the second after each kill (a submission may have raced with it)
        int kills = workers.kills();
        if (kills != killsSeen) {
            killsSeen = kills;
            lookForKilledUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        }
        if (System.nanoTime() - lookForKilledUntil > 0) {
            return;
        }
        for (SoakRequest r : requests.values()) {
            if (r.ctx == null && killed(r.ctxWorker, r)) {
                r.ctxOutcome(SoakRequest.Out.KILLED);
            }
            if (r.gen == null && killed(r.genWorker, r)) {
                r.genOutcome(SoakRequest.Out.KILLED);
            }
        }
    }

    /** Whether the process that took this request's half is dead (killed with its host, or replaced since). */
    private boolean killed(String worker, SoakRequest r) {
        WorkerProcess p = workers.process(worker);
        return p == null || p.killed || p.startNanos > r.submitNanos;
    }

    /**
     * The probes come once every cross-host fault has ended (bounded); then the load waits for the peers to
     * settle ({@link SoakSettle}), so a probe is not refused for a fault it is not about.
     */
    @Override
    public void beforeProbes() throws InterruptedException {
        if (!faults.awaitAllEnded(Duration.ofSeconds(120))) {
            out.println("!! a cross-host fault did not end within 120 s; probing anyway");
        }
    }

    @Override
    public SoakTimeline.Gauges gauges() {
        return new SoakTimeline.Gauges(phase.name(), workers.gauges(SoakWorker.Role.CTX), workers.gauges(SoakWorker.Role.GEN));
    }

    @Override
    public SoakRequest submit(long id, int blocks, SoakPhase p) {
        int concurrency = p == SoakPhase.WARMUP ? o.warmupConcurrency : p == SoakPhase.BURST ? o.burstConcurrency : 1;
        int share = Math.max(1, (concurrency + pairs.size() - 1) / pairs.size());
        Map<String, Integer> inFlight = new HashMap<>();
        for (SoakRequest r : requests.values()) {
            if (!r.done()) {
                inFlight.merge(r.ctxWorker + "|" + r.genWorker, 1, Integer::sum);
            }
        }
        // the pair with the fewest requests in flight, within its share (probes: any), ties in turn
        String[] pick = null;
        int best = Integer.MAX_VALUE;
        int limit = p == SoakPhase.PROBES ? Integer.MAX_VALUE : share;
        for (int i = 0; i < pairs.size(); i++) {
            String[] pd = pairs.get((cursor + i) % pairs.size());
            int n = inFlight.getOrDefault(pd[0] + "|" + pd[1], 0);
            if (n < limit && n < best && workers.pairUp(pd[0], pd[1])) {
                pick = pd;
                best = n;
            }
        }
        if (pick == null) {
            return null;
        }
        cursor = (pairs.indexOf(pick) + 1) % pairs.size();
        WorkerProcess ctx = workers.process(pick[0]);
        WorkerProcess gen = workers.process(pick[1]);
        SoakRequest r = new SoakRequest(id, blocks, p, pick[0], pick[1]);
        requests.put(id, r);
        timeline.injected(faultPlan.kindsHitting(id));
        ctx.send("REQ " + id + " " + blocks + " " + pick[1]);
        gen.send("REQ " + id + " " + blocks + " " + pick[0]);
        return r;
    }
}
