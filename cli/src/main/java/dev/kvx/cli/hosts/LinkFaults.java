package dev.kvx.cli.hosts;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Packet loss, delay and partitions on the hosts' links. Loss and delay use {@code tc netem} on both
 * ends of a host's cable (the host's egress and the bridge port's egress, so each direction gets
 * them); where the kernel has no {@code sch_netem}, loss falls back to nftables ({@code numgen random}
 * drops in the host's input and output hooks) and delay is refused with the reason. Partitions drop
 * bridged frames between groups of ports with an nftables bridge table in the bridge's namespace.
 */
final class LinkFaults {
    private static final String LOSS_TABLE = "kvxloss";
    private static final String PARTITION_TABLE = "kvxpartition";
    private final String bridgeNamespace;
    private final boolean netem;
    private final boolean nft;

    private LinkFaults(String bridgeNamespace, boolean netem, boolean nft) {
        this.bridgeNamespace = bridgeNamespace;
        this.netem = netem;
        this.nft = nft;
    }

    /** Probes, in the bridge's namespace, whether netem and nft work here. */
    static LinkFaults probe(String bridgeNamespace) {
        boolean netem = NetCommand.attempt(NetCommand.ip(bridgeNamespace, "link", "add", "kvxprobe", "type", "dummy"), null).exit() == 0
                && NetCommand.attempt(List.of("tc", "-n", bridgeNamespace, "qdisc", "add", "dev", "kvxprobe", "root", "netem",
                "delay", "1ms"), null).exit() == 0;
        NetCommand.attempt(NetCommand.ip(bridgeNamespace, "link", "del", "kvxprobe"), null);
        boolean nft = NetCommand.attempt(NetCommand.inNamespace(bridgeNamespace, "nft", "list", "tables"), null).exit() == 0;
        return new LinkFaults(bridgeNamespace, netem, nft);
    }

    /** Whether this kernel has {@code sch_netem} (delay possible). */
    boolean hasNetem() {
        return netem;
    }

    /** Whether the {@code nft} tool works (loss without netem, partitions). */
    boolean hasNft() {
        return nft;
    }

    /**
     * Applies loss (percent of packets, each direction) and delay (each direction) to a host's link,
     * replacing what was there.
     */
    void impair(NetnsHost host, double lossPercent, Duration delay) {
        if (lossPercent < 0 || lossPercent > 100) {
            throw new IllegalArgumentException("loss must be 0..100 %, got " + lossPercent);
        }
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, got " + delay);
        }
        clear(host);
        if (netem) {
            List<String> spec = new ArrayList<>(List.of("netem"));
            if (lossPercent > 0) {
                spec.addAll(List.of("loss", String.format(Locale.ROOT, "%.4f%%", lossPercent)));
            }
            if (!delay.isZero()) {
                spec.addAll(List.of("delay", (delay.toNanos() / 1000) + "us"));
            }
            qdisc(host.namespace(), NetnsHost.INTERFACE, spec);
            qdisc(bridgeNamespace, host.bridgePort(), spec);
            return;
        }
        if (!delay.isZero()) {
            throw new UnsupportedOperationException("this kernel has no tc netem (CONFIG_NET_SCH_NETEM): packet delay "
                    + "cannot be emulated here; loss can (through nftables)");
        }
        if (!nft) {
            throw new UnsupportedOperationException("packet loss needs tc netem or nftables; this machine has neither "
                    + "(apt-get install nftables)");
        }
        long perTenThousand = Math.round(lossPercent * 100);
        String rule = perTenThousand >= 10000 ? "counter drop" : "numgen random mod 10000 < " + perTenThousand + " counter drop";
        NetCommand.run(NetCommand.inNamespace(host.namespace(), "nft", "-f", "-"), "table inet " + LOSS_TABLE + " {\n"
                + "  chain input_loss { type filter hook input priority -10; policy accept; " + rule + "; }\n"
                + "  chain output_loss { type filter hook output priority -10; policy accept; " + rule + "; }\n}\n");
    }

    /** Removes loss and delay from a host's link (nothing there is fine). */
    void clear(NetnsHost host) {
        if (netem) {
            NetCommand.attempt(List.of("tc", "-n", host.namespace(), "qdisc", "del", "dev", NetnsHost.INTERFACE, "root"), null);
            NetCommand.attempt(List.of("tc", "-n", bridgeNamespace, "qdisc", "del", "dev", host.bridgePort(), "root"), null);
        }
        if (nft) {
            NetCommand.attempt(NetCommand.inNamespace(host.namespace(), "nft", "delete", "table", "inet", LOSS_TABLE), null);
        }
    }

    /**
     * Splits the hosts into groups that cannot reach each other (frames between ports of different
     * groups are dropped on the bridge); hosts in no group keep reaching everyone. Replaces an
     * earlier partition.
     */
    void partition(List<? extends Collection<NetnsHost>> groups) {
        if (!nft) {
            throw new UnsupportedOperationException("partitions need nftables (apt-get install nftables)");
        }
        heal();
        StringBuilder rules = new StringBuilder();
        for (int i = 0; i < groups.size(); i++) {
            for (int j = 0; j < groups.size(); j++) {
                if (i != j && !groups.get(i).isEmpty() && !groups.get(j).isEmpty()) {
                    rules.append("    iifname ").append(ports(groups.get(i))).append(" oifname ")
                            .append(ports(groups.get(j))).append(" counter drop\n");
                }
            }
        }
        NetCommand.run(NetCommand.inNamespace(bridgeNamespace, "nft", "-f", "-"), "table bridge " + PARTITION_TABLE + " {\n"
                + "  chain forward_drop {\n    type filter hook forward priority -10; policy accept;\n" + rules + "  }\n}\n");
    }

    /** Ends a partition (none is fine). */
    void heal() {
        if (nft) {
            NetCommand.attempt(NetCommand.inNamespace(bridgeNamespace, "nft", "delete", "table", "bridge", PARTITION_TABLE), null);
        }
    }

    private static String ports(Collection<NetnsHost> hosts) {
        return hosts.stream().map(h -> "\"" + h.bridgePort() + "\"").collect(Collectors.joining(", ", "{ ", " }"));
    }

    private static void qdisc(String namespace, String dev, List<String> spec) {
        List<String> cmd = new ArrayList<>(List.of("tc", "-n", namespace, "qdisc", "replace", "dev", dev, "root"));
        cmd.addAll(spec);
        NetCommand.run(cmd);
    }
}
