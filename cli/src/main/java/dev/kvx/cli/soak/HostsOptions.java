package dev.kvx.cli.soak;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of {@code kvx soak --hosts N} (a picocli mixin of {@link SoakOptions}): the hosts, how
 * many workers of each role, UCX's transports, and the cross-host faults mixed into the load. Times are
 * seconds after the load starts (warm-up starts at 0, the burst at {@code --warmup}).
 */
final class HostsOptions {
    @Option(names = "--hosts", paramLabel = "N", defaultValue = "0",
            description = "run the workers on N network-namespace hosts (N >= 2; needs root), finding each other by name through "
                    + "a real etcd in a host of its own, data over UCX's TCP transport; prefill workers on the first half of the "
                    + "hosts, decode workers on the rest (default: one host, loopback)")
    int hosts;
    @Option(names = "--prefill", paramLabel = "P", defaultValue = "2", description = "with --hosts: prefill (context) workers (${DEFAULT-VALUE})")
    int prefill;
    @Option(names = "--decode", paramLabel = "D", defaultValue = "2",
            description = "with --hosts: decode (generation) workers (${DEFAULT-VALUE}); each takes requests from every prefill worker")
    int decode;
    @Option(names = "--cut-link", paramLabel = "HOST@S[:D]",
            description = "with --hosts: the host's link goes down at S for D seconds (default 2), then comes back; repeatable. "
                    + "With --hosts and no fault option, the first decode host's link is cut for 2 s a third into the burst; "
                    + "--cut-link none: no cross-host fault")
    List<String> cutLinks = new ArrayList<>();
    @Option(names = "--partition", paramLabel = "S[:D]", arity = "0..1", fallbackValue = "",
            description = "with --hosts: the prefill hosts and the decode hosts stop reaching each other at S for D seconds "
                    + "(default: half-way through the burst, 2 s)")
    String partition;
    @Option(names = "--loss", paramLabel = "HOST@S[:D]", description = "with --hosts: --loss-percent packet loss each way on the host's link; repeatable")
    List<String> losses = new ArrayList<>();
    @Option(names = "--loss-percent", paramLabel = "PCT", defaultValue = "5", description = "packet loss of --loss (${DEFAULT-VALUE} %%)")
    double lossPercent;
    @Option(names = "--delay", paramLabel = "HOST@S[:D]",
            description = "with --hosts: --delay-ms more latency each way on the host's link (needs tc netem; the report says when the "
                    + "kernel lacks it); repeatable")
    List<String> delays = new ArrayList<>();
    @Option(names = "--delay-ms", paramLabel = "MS", defaultValue = "20", description = "delay of --delay (${DEFAULT-VALUE} ms)")
    long delayMs;
    @Option(names = "--kill-host", paramLabel = "HOST@S[:D]",
            description = "with --hosts: every worker in the host is SIGKILLed and its namespace deleted at S; D seconds later (default 2) "
                    + "the host comes back and its workers restart under the same names, found again through etcd; repeatable")
    List<String> killHosts = new ArrayList<>();
    @Option(names = "--restart-etcd-at", paramLabel = "S[:D]", description = "with --hosts: etcd stops at S and starts again D seconds later (default 2)")
    String restartEtcd;
    @Option(names = "--ucx-tls", paramLabel = "LIST", defaultValue = "tcp,cuda_copy",
            description = "with --hosts: the workers' UCX_TLS (${DEFAULT-VALUE}; UCX's default would move data by cross-memory "
                    + "attach, past the namespaces; cuda_copy because NIXL refuses a UCX_TLS without CUDA support where a "
                    + "GPU is present, and UCX skips it where none is)")
    String ucxTls;

    boolean enabled() {
        return hosts != 0;
    }

    /** Whether any cross-host fault option was given. */
    boolean anyFault() {
        return !cutLinks.isEmpty() || partition != null || !losses.isEmpty() || !delays.isEmpty() || !killHosts.isEmpty()
                || restartEtcd != null;
    }

    /**
     * The faults to run, checked against the hosts and the load's length.
     *
     * @throws IllegalArgumentException naming the option and what is wrong
     */
    List<HostFault> plan(SoakOptions o, HostsTopology t) {
        List<HostFault> out = new ArrayList<>();
        cutLinks.stream().filter(s -> !s.equals("none")).forEach(s -> out.add(HostFault.onHost(HostFault.Kind.CUT_LINK, s)));
        if (partition != null) {
            double halfWay = Math.round((o.warmupSeconds + o.burstSeconds / 2.0) * 10) / 10.0;
            out.add(partition.isBlank() ? new HostFault(HostFault.Kind.PARTITION, null, halfWay, HostFault.DEFAULT_SECONDS)
                    : HostFault.at(HostFault.Kind.PARTITION, partition));
        }
        losses.forEach(s -> out.add(HostFault.onHost(HostFault.Kind.LOSS, s)));
        delays.forEach(s -> out.add(HostFault.onHost(HostFault.Kind.DELAY, s)));
        killHosts.forEach(s -> out.add(HostFault.onHost(HostFault.Kind.KILL_HOST, s)));
        if (restartEtcd != null) {
            out.add(HostFault.at(HostFault.Kind.RESTART_ETCD, restartEtcd));
        }
        if (!anyFault()) {
            double third = Math.round((o.warmupSeconds + o.burstSeconds / 3.0) * 10) / 10.0;
            out.add(new HostFault(HostFault.Kind.CUT_LINK, t.decodeHosts().get(0), third, HostFault.DEFAULT_SECONDS));
        }
        if (!(lossPercent > 0 && lossPercent <= 100)) {
            throw new IllegalArgumentException("--loss-percent must be in (0, 100], got " + lossPercent);
        }
        if (delayMs <= 0 || delayMs > 10_000) {
            throw new IllegalArgumentException("--delay-ms must be in 1..10000, got " + delayMs);
        }
        int load = o.warmupSeconds + o.burstSeconds;
        for (HostFault f : out) {
            if (f.host() != null && !t.hosts().contains(f.host())) {
                throw new IllegalArgumentException(f.kind().option + " names host '" + f.host() + "', but the hosts are "
                        + t.hosts() + (f.host().equals(HostsTopology.ETCD_HOST) ? " (etcd's host: use --restart-etcd-at)" : ""));
            }
            if (f.atSeconds() >= load) {
                throw new IllegalArgumentException(f.kind().option + " starts at " + f.atSeconds() + " s, after the load (warm-up + "
                        + "burst = " + load + " s): faults are meant to hit requests in flight");
            }
            if (f.untilSeconds() > load + o.idleSeconds) {
                throw new IllegalArgumentException(f.kind().option + " lasts until " + f.untilSeconds() + " s, past the idle phase "
                        + "(ends at " + (load + o.idleSeconds) + " s): the recovery probes come after every fault has ended");
            }
        }
        for (int i = 0; i < out.size(); i++) {
            for (int j = i + 1; j < out.size(); j++) {
                HostFault a = out.get(i);
                HostFault b = out.get(j);
                if (clash(a, b) && a.atSeconds() < b.untilSeconds() && b.atSeconds() < a.untilSeconds()) {
                    throw new IllegalArgumentException(a.kind().option + " " + a + " and " + b.kind().option + " " + b + " overlap on the same "
                            + (a.host() == null ? "target" : "host") + ": let one end before the other starts");
                }
            }
        }
        return out;
    }

    /** Faults that cannot be in effect together: anything with a host kill on that host, or two of a kind on one target. */
    private static boolean clash(HostFault a, HostFault b) {
        if (a.host() != null && a.host().equals(b.host())) {
            return a.kind() == b.kind() || a.kind() == HostFault.Kind.KILL_HOST || b.kind() == HostFault.Kind.KILL_HOST;
        }
        return a.host() == null && b.host() == null && a.kind() == b.kind();
    }
}
