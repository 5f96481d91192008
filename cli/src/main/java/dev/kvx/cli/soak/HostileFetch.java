package dev.kvx.cli.soak;

import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.NixlAgent;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The hostile peer's metadata fetches without the secret, the way NIXL's own metadata exchange asks for
 * it: an agent with NIXL's listener asks every TCP port the victims' processes listen on (read from
 * {@code /proc}: kvx's control channel and UCX's own listeners) and NIXL's default port 8888 for their
 * metadata, then waits to see whether any victim's metadata arrived. One attempt is one such round.
 */
final class HostileFetch {
    private static final int NIXL_DEFAULT_PORT = 8888;
    final AtomicLong attempts = new AtomicLong();
    final AtomicLong asked = new AtomicLong();
    /** Of those, asked at a victim's kvx control channel (which counts each as a refused exchange). */
    final AtomicLong askedControl = new AtomicLong();
    final AtomicLong got = new AtomicLong();

    /** Every TCP port the process listens on, as {@code ip:port} (an any-address listener as 127.0.0.1). */
    static Set<String> listening(long pid) {
        Set<String> inodes = new HashSet<>();
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String link = Files.readSymbolicLink(fd).toString();
                    if (link.startsWith("socket:[")) {
                        inodes.add(link.substring(8, link.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            return Set.of(); // gone, or not ours to read
        }
        Set<String> out = new TreeSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try {
                List<String> lines = Files.readAllLines(Path.of(table));
                for (String line : lines.subList(1, lines.size())) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 9 && f[3].equals("0A") && inodes.contains(f[9])) { // LISTEN, the victim's
                        out.add(address(f[1]));
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no IPv6 table
            }
        }
        return out;
    }

    /** {@code /proc/net/tcp}'s hex address as ip:port; IPv6 and any-address listeners are asked on loopback. */
    private static String address(String hex) {
        String[] a = hex.split(":");
        int port = Integer.parseInt(a[1], 16);
        if (a[0].length() == 8 && !a[0].equals("00000000")) {
            return String.format(Locale.ROOT, "%d.%d.%d.%d:%d", Integer.parseInt(a[0].substring(6, 8), 16),
                    Integer.parseInt(a[0].substring(4, 6), 16), Integer.parseInt(a[0].substring(2, 4), 16),
                    Integer.parseInt(a[0].substring(0, 2), 16), port);
        }
        if (a[0].length() == 32 && a[0].startsWith("0000000000000000FFFF0000")) { // ::ffff:a.b.c.d
            String v4 = a[0].substring(24);
            return String.format(Locale.ROOT, "%d.%d.%d.%d:%d", Integer.parseInt(v4.substring(6, 8), 16),
                    Integer.parseInt(v4.substring(4, 6), 16), Integer.parseInt(v4.substring(2, 4), 16),
                    Integer.parseInt(v4.substring(0, 2), 16), port);
        }
        return "127.0.0.1:" + port;
    }

    /**
     * One round: asks every listening port of the victims (and 8888) for metadata, then waits up to {@code wait}
     * for a victim's to arrive.
     *
     * @param control the victims' control channels, as {@code ip:port}
     * @return the ports asked
     */
    List<String> attempt(List<Long> pids, List<String> victims, Set<String> control, Duration wait) throws InterruptedException {
        attempts.incrementAndGet();
        List<String> targets = new ArrayList<>();
        pids.forEach(p -> targets.addAll(listening(p)));
        targets.add("127.0.0.1:" + NIXL_DEFAULT_PORT);
        int listen;
        try (ServerSocket probe = new ServerSocket(0)) {
            listen = probe.getLocalPort();
        } catch (IOException e) {
            return List.of();
        }
        try (NixlAgent a = NixlAgent.create("hostile-fetcher-" + ProcessHandle.current().pid() + "-" + listen,
                AgentConfig.defaults().withListener(listen))) {
            a.createBackend("UCX", NixlAgent.defaultUcxParams());
            for (String t : targets) {
                int colon = t.lastIndexOf(':');
                try {
                    a.fetchRemoteMetadata(t.substring(0, colon), Integer.parseInt(t.substring(colon + 1)));
                    asked.incrementAndGet();
                    if (control.contains(t)) {
                        askedControl.incrementAndGet();
                    }
                } catch (RuntimeException e) {
                    // NIXL would not even ask
                }
            }
            long end = System.nanoTime() + wait.toNanos();
            while (System.nanoTime() < end) {
                for (String v : victims) {
                    if (a.hasRemote(v)) {
                        got.incrementAndGet(); // a victim's metadata reached an agent that never proved the secret
                        return targets;
                    }
                }
                Thread.sleep(50);
            }
        }
        return targets;
    }
}
