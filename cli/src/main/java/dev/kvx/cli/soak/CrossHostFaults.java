package dev.kvx.cli.soak;

import dev.kvx.cli.hosts.EtcdProcess;
import dev.kvx.cli.hosts.NetnsHosts;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the cross-host faults of {@code kvx soak --hosts} at their times (on a scheduler of their own,
 * so the load keeps flowing), undoes each after its duration, and records when each really began and
 * ended. A fault this machine cannot make (packet delay without {@code tc netem}, a partition without
 * nftables) is recorded as unsupported, with the reason, and skipped. {@link #close()} undoes whatever
 * is still in effect.
 */
final class CrossHostFaults implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CrossHostFaults.class.getName());

    /** One fault as it happened. */
    static final class Record {
        final HostFault spec;
        /** The workers whose requests it can touch (all of them for a partition or an etcd restart). */
        final List<String> workers;
        volatile long startNanos;
        /** When undoing it began (the link back up, the host's namespace back, etcd starting). */
        volatile long undoneNanos;
        /** When it was over: undone and, for a killed host, its workers connected again. */
        volatile long endNanos;
        volatile String status = "scheduled";
        volatile boolean active;

        Record(HostFault spec, List<String> workers) {
            this.spec = spec;
            this.workers = workers;
        }

        boolean ended() {
            return endNanos != 0 || status.startsWith("unsupported") || status.startsWith("failed");
        }
    }

    private final NetnsHosts hosts;
    private final EtcdProcess etcd;
    private final HostWorkers workers;
    private final HostsTopology topology;
    private final SoakTimeline timeline;
    private final PrintWriter out;
    private final SoakOptions o;
    private final List<Record> records = new ArrayList<>();
    private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(4, r -> {
        Thread t = new Thread(r, "soak-host-faults");
        t.setDaemon(true);
        return t;
    });

    CrossHostFaults(SoakOptions o, NetnsHosts hosts, EtcdProcess etcd, HostWorkers workers, SoakTimeline timeline, PrintWriter out) {
        this.o = o;
        this.hosts = hosts;
        this.etcd = etcd;
        this.workers = workers;
        this.topology = o.topology;
        this.timeline = timeline;
        this.out = out;
        List<String> all = new ArrayList<>(topology.prefill());
        all.addAll(topology.decode());
        for (HostFault f : o.hostFaults) {
            records.add(new Record(f, f.host() == null ? List.copyOf(all) : topology.workersIn(f.host())));
        }
    }

    List<Record> records() {
        return List.copyOf(records);
    }

    /** Schedules every fault relative to the start of the load. */
    void start(long loadStartNanos) {
        for (Record r : records) {
            long delay = loadStartNanos + (long) (r.spec.atSeconds() * 1e9) - System.nanoTime();
            scheduler.schedule(() -> begin(r), Math.max(0, delay), TimeUnit.NANOSECONDS);
        }
    }

    /** Waits until every fault has ended (its link restored, its host back and connected); false at the deadline. */
    boolean awaitAllEnded(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!records.stream().allMatch(Record::ended)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(50);
        }
        return true;
    }

    private void begin(Record r) {
        HostFault f = r.spec;
        String why = unsupported(f);
        if (why != null) {
            r.status = "unsupported on this kernel: " + why;
            say("fault", f + ": not run, " + why);
            return;
        }
        try {
            r.startNanos = System.nanoTime();
            r.active = true;
            switch (f.kind()) {
                case CUT_LINK -> {
                    hosts.cutLink(hosts.host(f.host()));
                    say("fault", f + ": " + f.host() + "'s link down " + r.workers);
                }
                case PARTITION -> {
                    hosts.partition(List.of(topology.prefillHosts().stream().map(hosts::host).toList(),
                            topology.decodeHosts().stream().map(hosts::host).toList()));
                    say("fault", f + ": prefill hosts " + topology.prefillHosts() + " cut off from decode hosts " + topology.decodeHosts());
                }
                case LOSS -> {
                    hosts.impair(hosts.host(f.host()), hostsOptions().lossPercent, Duration.ZERO);
                    say("fault", f + ": " + hostsOptions().lossPercent + " % packet loss each way on " + f.host());
                }
                case DELAY -> {
                    hosts.impair(hosts.host(f.host()), 0, Duration.ofMillis(hostsOptions().delayMs));
                    say("fault", f + ": " + hostsOptions().delayMs + " ms delay each way on " + f.host());
                }
                case KILL_HOST -> {
                    List<String> dead = workers.killHost(f.host());
                    say("kill", f + ": host " + f.host() + " killed with " + dead + " (SIGKILL, namespace deleted)");
                }
                case RESTART_ETCD -> {
                    etcd.stop();
                    say("fault", f + ": etcd stopped");
                }
            }
            r.status = "in effect";
            scheduler.schedule(() -> end(r), (long) (f.forSeconds() * 1e9), TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            fail(r, e);
        }
    }

    private void end(Record r) {
        HostFault f = r.spec;
        r.undoneNanos = System.nanoTime();
        try {
            switch (f.kind()) {
                case CUT_LINK -> hosts.restoreLink(hosts.host(f.host()));
                case PARTITION -> hosts.heal();
                case LOSS, DELAY -> hosts.clearImpairment(hosts.host(f.host()));
                case KILL_HOST -> {
                    say("restart", f + ": host " + f.host() + " back; restarting " + r.workers + " under the same names");
                    workers.reviveHost(f.host());
                }
                case RESTART_ETCD -> etcd.start();
            }
            r.active = false;
            r.endNanos = System.nanoTime();
            r.status = "done";
            say(f.kind() == HostFault.Kind.KILL_HOST ? "restart" : "heal", f + ": " + switch (f.kind()) {
                case CUT_LINK -> f.host() + "'s link restored";
                case PARTITION -> "partition healed";
                case LOSS, DELAY -> f.host() + "'s link clean again";
                case KILL_HOST -> r.workers + " found again through etcd and connected";
                case RESTART_ETCD -> "etcd serving again";
            });
        } catch (Exception e) {
            fail(r, e);
        }
    }

    private HostsOptions hostsOptions() {
        return o.hostsOptions;
    }

    private String unsupported(HostFault f) {
        return switch (f.kind()) {
            case DELAY -> hosts.canDelay() ? null : "no tc netem (sch_netem) in this kernel, so packet delay cannot be emulated";
            case LOSS -> hosts.canLose() ? null : "neither tc netem nor nftables here, so packet loss cannot be emulated";
            case PARTITION -> hosts.canPartition() ? null : "partitions need nftables (apt-get install nftables)";
            default -> null;
        };
    }

    private void fail(Record r, Exception e) {
        r.status = "failed: " + e.getMessage();
        r.endNanos = r.endNanos == 0 ? System.nanoTime() : r.endNanos;
        LOG.log(System.Logger.Level.WARNING, "cross-host fault " + r.spec + " failed", e);
        say("fault", r.spec + ": failed: " + e.getMessage());
    }

    private void say(String kind, String text) {
        timeline.event(kind, text);
        out.printf(Locale.ROOT, "!! %.1f s: %s%n", timeline.elapsed(), text);
    }

    /** Stops the scheduler and undoes what is still in effect (links restored, partition healed, etcd started). */
    @Override
    public void close() {
        scheduler.shutdownNow();
        for (Record r : records) {
            if (!r.active) {
                continue;
            }
            try {
                switch (r.spec.kind()) {
                    case CUT_LINK -> hosts.restoreLink(hosts.host(r.spec.host()));
                    case PARTITION -> hosts.heal();
                    case LOSS, DELAY -> hosts.clearImpairment(hosts.host(r.spec.host()));
                    case RESTART_ETCD -> etcd.start();
                    case KILL_HOST -> { } // its namespace is gone; the run is ending
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "undoing " + r.spec + " at the end", e);
            }
        }
    }
}
