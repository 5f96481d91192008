package dev.kvx.cli.soak;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the workers of {@code kvx soak --hosts N} run: hosts {@code h0 .. h(N-1)}, the first half
 * (at least one) for prefill (context) workers and the rest for decode (generation) workers, the
 * workers of each role spread over its hosts in turn; etcd gets a host of its own. Every decode worker
 * takes requests from every prefill worker.
 */
final class HostsTopology {
    /** The etcd host's name. */
    static final String ETCD_HOST = "etcd";
    private final List<String> hosts = new ArrayList<>();
    private final List<String> prefillHosts = new ArrayList<>();
    private final List<String> decodeHosts = new ArrayList<>();
    private final Map<String, String> hostOf = new LinkedHashMap<>();
    private final List<String> prefill = new ArrayList<>();
    private final List<String> decode = new ArrayList<>();

    HostsTopology(int hostCount, int prefillCount, int decodeCount) {
        if (hostCount < 2) {
            throw new IllegalArgumentException("--hosts must be at least 2 (prefill and decode workers on different hosts), got " + hostCount);
        }
        if (hostCount > 64) {
            throw new IllegalArgumentException("--hosts must be at most 64, got " + hostCount);
        }
        if (prefillCount < 1 || decodeCount < 1 || prefillCount + decodeCount > 32) {
            throw new IllegalArgumentException("--prefill and --decode must be at least 1 each and 32 together, got " + prefillCount
                    + " and " + decodeCount);
        }
        int prefillHostCount = Math.max(1, hostCount / 2);
        for (int i = 0; i < hostCount; i++) {
            String h = "h" + i;
            hosts.add(h);
            (i < prefillHostCount ? prefillHosts : decodeHosts).add(h);
        }
        for (int i = 0; i < prefillCount; i++) {
            prefill.add("prefill-" + i);
            hostOf.put("prefill-" + i, prefillHosts.get(i % prefillHosts.size()));
        }
        for (int i = 0; i < decodeCount; i++) {
            decode.add("decode-" + i);
            hostOf.put("decode-" + i, decodeHosts.get(i % decodeHosts.size()));
        }
    }

    /** The worker hosts, {@code h0 ..}. */
    List<String> hosts() {
        return List.copyOf(hosts);
    }

    /** Every namespace to make: the worker hosts, then etcd's. */
    List<String> namespaces() {
        List<String> all = new ArrayList<>(hosts);
        all.add(ETCD_HOST);
        return all;
    }

    List<String> prefillHosts() {
        return List.copyOf(prefillHosts);
    }

    List<String> decodeHosts() {
        return List.copyOf(decodeHosts);
    }

    /** Prefill (context) workers' names. */
    List<String> prefill() {
        return List.copyOf(prefill);
    }

    /** Decode (generation) workers' names. */
    List<String> decode() {
        return List.copyOf(decode);
    }

    /** The host a worker runs in. */
    String hostOf(String worker) {
        return hostOf.get(worker);
    }

    /** The workers in a host (none for etcd's or an idle one). */
    List<String> workersIn(String host) {
        return hostOf.entrySet().stream().filter(e -> e.getValue().equals(host)).map(Map.Entry::getKey).toList();
    }

    /** Whether the name is a host of this run (a worker host or etcd's). */
    boolean isHost(String name) {
        return hosts.contains(name) || name.equals(ETCD_HOST);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (String h : hosts) {
            List<String> w = workersIn(h);
            sb.append(sb.isEmpty() ? "" : ", ").append(h).append(" [").append(w.isEmpty() ? "idle" : String.join(" ", w)).append(']');
        }
        return sb.append(", ").append(ETCD_HOST).append(" [etcd]").toString();
    }
}
