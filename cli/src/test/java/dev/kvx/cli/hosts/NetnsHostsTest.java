package dev.kvx.cli.hosts;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Real network namespaces: reachability between hosts, link cut and restore, loss, partition, kill, cleanup. */
class NetnsHostsTest {
    private static final int PORT = 7107;
    private NetnsHosts hosts;
    private Process listener;

    @BeforeEach
    void createHosts() {
        try {
            hosts = NetnsHosts.create(List.of("a", "b", "c"));
        } catch (HostsUnavailableException e) {
            Assumptions.abort("skipped: " + e.getMessage());
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (listener != null) {
            listener.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (hosts != null) {
            hosts.close();
        }
    }

    /** Starts {@link TcpListen} (this JVM's java, this classpath) inside {@code host}. */
    private void listenIn(NetnsHost host) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        listener = hosts.processBuilder(host, List.of(java, "-cp", System.getProperty("java.class.path"),
                TcpListen.class.getName(), String.valueOf(PORT))).redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(listener.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("listening", r.readLine(), "listener did not start in " + host);
    }

    /** A TCP connect (2 s limit) from {@code from} to {@code to}'s listener, through bash's /dev/tcp. */
    private boolean reaches(NetnsHost from, NetnsHost to) {
        NetCommand.Result r = hosts.exec(from, List.of("timeout", "2", "bash", "-c",
                "exec 3<>/dev/tcp/" + to.address() + "/" + PORT + " && head -c1 <&3"));
        return r.exit() == 0 && r.output().equals("k");
    }

    private List<String> ours() {
        String prefix = hosts.bridgeNamespace().substring(0, hosts.bridgeNamespace().length() - "net".length());
        return NetnsHosts.listNamespaces().stream().filter(n -> n.startsWith(prefix)).toList();
    }

    @Test
    void hostsReachEachOtherAndLinkCutBlocksUntilRestored() throws Exception {
        NetnsHost a = hosts.host("a");
        NetnsHost b = hosts.host("b");
        assertEquals(List.of("10.231.0.1", "10.231.0.2", "10.231.0.3"), hosts.hosts().stream().map(NetnsHost::address).toList());
        listenIn(b);
        assertTrue(reaches(a, b), "a cannot reach b over the bridge");

        hosts.cutLink(b);
        assertFalse(reaches(a, b), "a still reaches b with b's link cut");
        hosts.restoreLink(b);
        boolean back = false;
        for (int i = 0; i < 10 && !back; i++) {
            back = reaches(a, b);
        }
        assertTrue(back, "a does not reach b again after the link was restored");
    }

    @Test
    void fullLossBlocksAndClearingItRestores() throws Exception {
        NetnsHost a = hosts.host("a");
        NetnsHost b = hosts.host("b");
        listenIn(b);
        if (!hosts.canLose()) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> hosts.impair(b, 5, Duration.ZERO));
            assertTrue(e.getMessage().contains("nftables"), e.getMessage());
            return;
        }
        hosts.impair(b, 100, Duration.ZERO);
        assertFalse(reaches(a, b), "100 % loss still lets a connection through");
        hosts.clearImpairment(b);
        assertTrue(reaches(a, b), "clearing the loss did not restore reachability");
        if (hosts.canDelay()) {
            hosts.impair(b, 0, Duration.ofMillis(20));
            assertTrue(reaches(a, b), "20 ms delay should still connect");
            hosts.clearImpairment(b);
        } else {
            assertThrows(UnsupportedOperationException.class, () -> hosts.impair(b, 0, Duration.ofMillis(20)));
        }
    }

    @Test
    void partitionSeparatesGroupsAndHealJoinsThem() throws Exception {
        NetnsHost a = hosts.host("a");
        NetnsHost b = hosts.host("b");
        NetnsHost c = hosts.host("c");
        listenIn(b);
        if (!hosts.canPartition()) {
            assertThrows(UnsupportedOperationException.class, () -> hosts.partition(List.of(List.of(a), List.of(b))));
            return;
        }
        hosts.partition(List.of(List.of(a), List.of(b)));
        assertFalse(reaches(a, b), "a reaches b across the partition");
        assertTrue(reaches(c, b), "c is in no group and must still reach b");
        hosts.heal();
        assertTrue(reaches(a, b), "a does not reach b after heal");
    }

    @Test
    void killRemovesTheHostAndItsProcessesAndCloseRemovesEverything() throws Exception {
        NetnsHost b = hosts.host("b");
        listenIn(b);
        assertEquals(4, ours().size(), "three hosts and the bridge: " + ours());
        hosts.kill(b);
        assertTrue(listener.waitFor(10, TimeUnit.SECONDS), "the process inside the killed host survived");
        assertFalse(ours().contains(b.namespace()), "killed host's namespace remains");
        assertThrows(IllegalArgumentException.class, () -> hosts.host("b"));
        assertFalse(reaches(hosts.host("a"), b));
        hosts.close();
        assertEquals(List.of(), ours(), "namespaces left after close");
        hosts.close(); // idempotent
    }

    @Test
    void namespacesOfDeadRunsAreRemovedAtStart() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        String stale = "kvx" + gone.pid() + ".1-h0";
        assertEquals(0, NetCommand.attempt(List.of("ip", "netns", "add", stale), null).exit());
        assertTrue(NetnsHosts.removeStale().contains(stale));
        assertFalse(NetnsHosts.listNamespaces().contains(stale));
        assertTrue(NetnsHosts.listNamespaces().contains(hosts.bridgeNamespace()), "a live run's namespaces must stay");
    }
}
