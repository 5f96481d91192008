package dev.kvx.cli.hosts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * "Hosts" on one machine: one Linux network namespace per host, each with loopback and an
 * {@code eth0} cabled (veth) to a bridge that lives in a namespace of its own, on the private
 * {@code 10.231.0.0/24} that exists only inside these namespaces. The root namespace is not touched.
 *
 * <p>Names are {@code kvx<pid>.<seq>-<host>} (the bridge's {@code kvx<pid>.<seq>-net}), so parallel
 * runs and several instances in one JVM do not clash. {@link #close()} kills every process inside and
 * deletes every namespace it made; a shutdown hook does the same on normal exit and Ctrl-C, and
 * {@link #create} first removes namespaces left by kvx runs whose process is gone (a crash or
 * {@code kill -9}). Needs root and iproute2; otherwise {@link HostsUnavailableException} says so.
 */
public final class NetnsHosts implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NetnsHosts.class.getName());
    /** Namespace names kvx makes. */
    static final Pattern OURS = Pattern.compile("kvx(\\d+)\\.(\\d+)-(.+)");
    private static final Pattern HOST_NAME = Pattern.compile("[a-z][a-z0-9]{0,11}");
    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final String SUBNET = "10.231.0.";
    private static final String BRIDGE = "br0";
    private final String prefix;
    private final String bridgeNamespace;
    private final Map<String, NetnsHost> hosts = new LinkedHashMap<>();
    private final List<String> namespaces = new ArrayList<>();
    private final Thread shutdownHook = new Thread(this::close, "kvx-netns-cleanup");
    private LinkFaults faults;
    private boolean closed;

    private NetnsHosts() {
        this.prefix = "kvx" + ProcessHandle.current().pid() + "." + SEQ.incrementAndGet() + "-";
        this.bridgeNamespace = prefix + "net";
    }

    /** Creates {@code count} hosts named {@code h0, h1, ...}. */
    public static NetnsHosts create(int count) {
        if (count < 1 || count > 250) {
            throw new IllegalArgumentException("host count must be 1..250, got " + count);
        }
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            names.add("h" + i);
        }
        return create(names);
    }

    /**
     * Creates one host per name (lower-case letters and digits, at most 12, e.g. {@code etcd},
     * {@code h0}), addressed {@code 10.231.0.1, .2, ...} in order.
     *
     * @throws HostsUnavailableException where namespaces cannot be made here
     */
    public static NetnsHosts create(List<String> names) {
        if (names.isEmpty() || names.size() > 250 || names.stream().distinct().count() != names.size()) {
            throw new IllegalArgumentException("need 1..250 distinct host names, got " + names);
        }
        for (String n : names) {
            if (!HOST_NAME.matcher(n).matches()) {
                throw new IllegalArgumentException("host name '" + n + "' must be lower-case letters and digits, at most 12");
            }
        }
        checkAvailable();
        removeStale();
        NetnsHosts h = new NetnsHosts();
        Runtime.getRuntime().addShutdownHook(h.shutdownHook);
        try {
            h.build(names);
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
        return h;
    }

    private void build(List<String> names) {
        addNamespace(bridgeNamespace);
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "set", "lo", "up"));
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "add", BRIDGE, "type", "bridge"));
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "set", BRIDGE, "up"));
        for (int i = 0; i < names.size(); i++) {
            NetnsHost host = new NetnsHost(names.get(i), prefix + names.get(i), SUBNET + (i + 1), "p" + i);
            cable(host);
        }
        faults = LinkFaults.probe(bridgeNamespace);
        LOG.log(System.Logger.Level.INFO, "hosts {0} on bridge namespace {1} (netem {2}, nft {3})", hosts.values(),
                bridgeNamespace, faults.hasNetem(), faults.hasNft());
    }

    /** Makes the host's namespace, cables it to the bridge and gives it its address. */
    private void cable(NetnsHost host) {
        addNamespace(host.namespace());
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "add", host.bridgePort(), "type", "veth", "peer", "name",
                NetnsHost.INTERFACE, "netns", host.namespace()));
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "set", host.bridgePort(), "master", BRIDGE, "up"));
        NetCommand.run(NetCommand.ip(host.namespace(), "link", "set", "lo", "up"));
        NetCommand.run(NetCommand.ip(host.namespace(), "addr", "add", host.address() + "/24", "dev", NetnsHost.INTERFACE));
        NetCommand.run(NetCommand.ip(host.namespace(), "link", "set", NetnsHost.INTERFACE, "up"));
        synchronized (this) {
            hosts.put(host.name(), host);
        }
    }

    private void addNamespace(String ns) {
        NetCommand.run(NetCommand.ip(null, "netns", "add", ns));
        synchronized (this) {
            namespaces.add(ns);
        }
    }

    // ---------------------------------------------------------------- hosts and commands

    /** The live hosts, in creation order. */
    public synchronized List<NetnsHost> hosts() {
        return List.copyOf(hosts.values());
    }

    /** A live host by name. */
    public synchronized NetnsHost host(String name) {
        NetnsHost h = hosts.get(name);
        if (h == null) {
            throw new IllegalArgumentException("no live host '" + name + "' (hosts: " + hosts.keySet() + ")");
        }
        return h;
    }

    /** The namespace of the bridge (for tools that inspect the switch). */
    public String bridgeNamespace() {
        return bridgeNamespace;
    }

    /** {@code command} prefixed with {@code ip netns exec <host's namespace>}. */
    public List<String> command(NetnsHost host, List<String> command) {
        Objects.requireNonNull(command, "command");
        List<String> out = new ArrayList<>(NetCommand.inNamespace(live(host).namespace()));
        out.addAll(command);
        return out;
    }

    /** A process builder that runs {@code command} inside {@code host}; configure and start it. */
    public ProcessBuilder processBuilder(NetnsHost host, List<String> command) {
        return new ProcessBuilder(command(host, command));
    }

    /** Runs a short command inside {@code host} to completion (20 s deadline); its exit status and output. */
    public NetCommand.Result exec(NetnsHost host, List<String> command) {
        return NetCommand.attempt(command(host, command), null);
    }

    // ---------------------------------------------------------------- faults

    /** Cuts the host's cable at the switch: its port goes down, the host sees no carrier, frames are lost. */
    public void cutLink(NetnsHost host) {
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "set", live(host).bridgePort(), "down"));
    }

    /** Plugs the cable back in. */
    public void restoreLink(NetnsHost host) {
        NetCommand.run(NetCommand.ip(bridgeNamespace, "link", "set", live(host).bridgePort(), "up"));
    }

    /**
     * Loss (percent, each direction) and delay (each direction, so the round trip grows by twice it)
     * on the host's link, replacing earlier ones; {@code tc netem}, or nftables for loss where the
     * kernel lacks netem ({@link UnsupportedOperationException} for delay there).
     */
    public void impair(NetnsHost host, double lossPercent, Duration delay) {
        faults().impair(live(host), lossPercent, delay);
    }

    /** Removes loss and delay from the host's link. */
    public void clearImpairment(NetnsHost host) {
        faults().clear(live(host));
    }

    /** Whether {@link #impair} can add delay on this kernel. */
    public boolean canDelay() {
        return faults().hasNetem();
    }

    /** Whether {@link #impair} can drop packets here (tc netem, or nftables). */
    public boolean canLose() {
        LinkFaults f = faults();
        return f.hasNetem() || f.hasNft();
    }

    /** Whether {@link #partition} works here (it needs nftables). */
    public boolean canPartition() {
        return faults().hasNft();
    }

    /** Groups of hosts that stop reaching each other (hosts in no group reach everyone); replaces an earlier one. */
    public void partition(List<? extends Collection<NetnsHost>> groups) {
        groups.forEach(g -> g.forEach(this::live));
        faults().partition(groups);
    }

    /** Ends the partition. */
    public void heal() {
        faults().heal();
    }

    /**
     * Kills the host as a power loss would: first its cable goes dead (so its dying sockets send no
     * FIN or RST to the peers, which see silence, not a reset), then every process inside is
     * SIGKILLed, then its namespace and cable are deleted. The host is gone afterwards.
     */
    public void kill(NetnsHost host) {
        cutLink(host);
        killProcesses(host.namespace());
        // the cable goes now: the kernel frees a deleted namespace (and the veth end in it) only later
        NetCommand.attempt(NetCommand.ip(bridgeNamespace, "link", "del", host.bridgePort()), null);
        NetCommand.run(NetCommand.ip(null, "netns", "del", host.namespace()));
        synchronized (this) {
            hosts.remove(host.name());
            namespaces.remove(host.namespace());
        }
    }

    /**
     * Brings a killed host back as a fresh machine would boot: a new namespace of the same name, cabled
     * to the same bridge port, with the same address; nothing runs in it until the caller starts it.
     *
     * @throws IllegalArgumentException if the host is alive, or is not one of this run's
     */
    public void revive(NetnsHost host) {
        synchronized (this) {
            if (closed || hosts.containsKey(host.name()) || !host.namespace().startsWith(prefix)) {
                throw new IllegalArgumentException("host " + host + " is not a killed host of this run");
            }
        }
        cable(host);
    }

    private synchronized LinkFaults faults() {
        if (closed) {
            throw new IllegalStateException("hosts were closed");
        }
        return faults;
    }

    private synchronized NetnsHost live(NetnsHost host) {
        if (closed || !host.equals(hosts.get(host.name()))) {
            throw new IllegalArgumentException("host " + host + " is not alive in this run");
        }
        return host;
    }

    // ---------------------------------------------------------------- cleanup

    /** Kills every process in the hosts, deletes every namespace this run made. Idempotent. */
    @Override
    public void close() {
        List<String> todo;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            todo = new ArrayList<>(namespaces);
            namespaces.clear();
            hosts.clear();
        }
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook (this call's twin) is harmless
            }
        }
        for (String ns : todo.reversed()) {
            removeNamespace(ns);
        }
    }

    private static void removeNamespace(String ns) {
        try {
            killProcesses(ns);
            NetCommand.Result r = NetCommand.attempt(NetCommand.ip(null, "netns", "del", ns), null);
            if (r.exit() != 0 && Files.exists(Path.of("/run/netns", ns))) {
                LOG.log(System.Logger.Level.WARNING, "could not delete namespace {0}: {1}", ns, r.output());
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cleaning namespace " + ns + " failed", e);
        }
    }

    /** SIGKILLs what runs in a namespace until nothing does (10 s deadline). */
    static void killProcesses(String ns) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            NetCommand.Result r = NetCommand.attempt(NetCommand.ip(null, "netns", "pids", ns), null);
            List<Long> pids = r.exit() == 0 ? r.output().lines().filter(l -> !l.isBlank()).map(l -> Long.parseLong(l.trim())).toList() : List.of();
            if (pids.isEmpty()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                LOG.log(System.Logger.Level.WARNING, "processes {0} in namespace {1} survived SIGKILL for 10 s", pids, ns);
                return;
            }
            pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Removes namespaces of kvx runs whose process no longer exists; returns their names. */
    public static List<String> removeStale() {
        List<String> removed = new ArrayList<>();
        for (String ns : listNamespaces()) {
            Matcher m = OURS.matcher(ns);
            if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                removeNamespace(ns);
                removed.add(ns);
            }
        }
        if (!removed.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "removed namespaces left by earlier kvx runs: {0}", removed);
        }
        return removed;
    }

    /** Every network namespace name on the machine. */
    static List<String> listNamespaces() {
        try (var files = Files.list(Path.of("/run/netns"))) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static void checkAvailable() {
        NetCommand.Result ip;
        try {
            ip = NetCommand.attempt(List.of("ip", "-V"), null);
        } catch (RuntimeException e) {
            throw new HostsUnavailableException("network-namespace hosts need iproute2's 'ip' on PATH "
                    + "(apt-get install iproute2); kvx cannot run hosts here", e);
        }
        if (ip.exit() != 0) {
            throw new HostsUnavailableException("'ip -V' failed: " + ip.output());
        }
        String uid = NetCommand.attempt(List.of("id", "-u"), null).output();
        if (!uid.equals("0")) {
            throw new HostsUnavailableException("network-namespace hosts need root (this is uid " + uid + "); run as "
                    + "root or in a container with CAP_SYS_ADMIN and CAP_NET_ADMIN, or run without --hosts");
        }
        String probe = "kvx" + ProcessHandle.current().pid() + ".0-probe";
        NetCommand.Result add = NetCommand.attempt(NetCommand.ip(null, "netns", "add", probe), null);
        NetCommand.attempt(NetCommand.ip(null, "netns", "del", probe), null);
        if (add.exit() != 0) {
            throw new HostsUnavailableException("'ip netns add' is refused here (" + add.output() + "); network-namespace "
                    + "hosts need CAP_SYS_ADMIN and a writable /run/netns");
        }
    }

    @Override
    public String toString() {
        return "NetnsHosts" + hosts() + " bridge " + bridgeNamespace;
    }
}
