package dev.kvx.cli.hosts;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Three namespace hosts: etcd in its own, a target worker JVM in h1 and an initiator in h0. The
 * workers find each other by name through etcd (NIXL's central store) and WRITE over UCX's TCP
 * transport across the bridge (UCX_TLS=tcp: with its default transports UCX would move the data
 * through cross-memory attach, past the namespaces).
 */
class CrossHostEtcdTest {
    private static final Duration START = Duration.ofSeconds(60);
    private static NetnsHosts hosts;
    private static EtcdProcess etcd;
    private static String namespace;

    @BeforeAll
    static void setUp() throws Exception {
        try {
            hosts = NetnsHosts.create(List.of("etcd", "h0", "h1"));
        } catch (HostsUnavailableException e) {
            Assumptions.abort("skipped: " + e.getMessage());
        }
        etcd = EtcdProcess.start(hosts, hosts.host("etcd"), etcdBinary());
        namespace = "/kvx-test/" + ProcessHandle.current().pid();
    }

    /** etcd on PATH (or KVX_ETCD), else what ci/provision-etcd.sh installs. */
    private static String etcdBinary() throws Exception {
        try {
            return EtcdProcess.findBinary();
        } catch (IllegalStateException missing) {
            Path script = null;
            for (Path p = Path.of("").toAbsolutePath(); p != null && script == null; p = p.getParent()) {
                if (Files.exists(p.resolve("ci/provision-etcd.sh"))) {
                    script = p.resolve("ci/provision-etcd.sh");
                }
            }
            assertNotNull(script, "ci/provision-etcd.sh not found: " + missing.getMessage());
            Process p = new ProcessBuilder("bash", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            boolean done = p.waitFor(300, TimeUnit.SECONDS);
            Assumptions.assumeTrue(done && p.exitValue() == 0 && !out.isEmpty(),
                    "skipped: no etcd and " + script + " could not install it");
            return out;
        }
    }

    @AfterAll
    static void tearDown() {
        if (etcd != null) {
            etcd.close();
        }
        if (hosts != null) {
            hosts.close();
        }
    }

    private static Map<String, String> workerEnv() {
        return Map.of("NIXL_ETCD_ENDPOINTS", etcd.endpoint(), "NIXL_ETCD_NAMESPACE", namespace, "UCX_TLS", "tcp",
                "NIXL_LOG_LEVEL", "WARN");
    }

    private static String field(String line, int index) {
        return line.split(" ")[index];
    }

    @Test
    void etcdInItsOwnHostCarriesMetadataAndTheWriteCrossesTheBridge() throws Exception {
        try (HostJvm target = HostJvm.start(hosts, hosts.host("h1"), workerEnv(), "target", "gen-a", "1MiB")) {
            String ready = target.await(l -> l.startsWith("READY"), START);
            assertNotNull(ready, "target did not publish:\n" + target.stderrTail());
            assertTrue(etcd.keys(namespace + "/").contains(namespace + "/gen-a/metadata"),
                    "the target's metadata key is not in etcd: " + etcd.keys(namespace + "/"));
            try (HostJvm init = HostJvm.start(hosts, hosts.host("h0"), workerEnv(), "initiator", "ctx-a", "gen-a",
                    field(ready, 2), "1MiB", "bench", "5")) {
                assertEquals(0, init.exit(START), "initiator failed:\n" + init.lines() + "\n" + init.stderrTail());
                assertNotNull(init.await(l -> l.startsWith("CONNECTED gen-a"), Duration.ZERO), init.lines().toString());
                String wrote = init.await(l -> l.startsWith("WROTE-CRC"), Duration.ZERO);
                String landed = target.await(l -> l.startsWith("CRC"), Duration.ofSeconds(20));
                assertNotNull(landed, "target never checked its buffer:\n" + target.lines());
                assertEquals(field(wrote, 1), field(landed, 1), "the bytes in h1 differ from what h0 wrote");
                assertNotNull(target.await(l -> l.equals("NOTIF " + l.split(" ")[1] + " ctx-a bench-done"), Duration.ZERO),
                        "the notification did not arrive: " + target.lines());
            }
            assertEquals(0, target.exit(Duration.ofSeconds(30)), "target did not withdraw and exit:\n" + target.stderrTail());
            assertFalse(etcd.keys(namespace + "/").contains(namespace + "/gen-a/metadata"), "withdrawn key still in etcd");
        }
    }

    @Test
    void twoSecondLinkCutDelaysTransfersButLosesNone() throws Exception {
        try (HostJvm target = HostJvm.start(hosts, hosts.host("h1"), workerEnv(), "target", "gen-b", "64KiB")) {
            String ready = target.await(l -> l.startsWith("READY"), START);
            assertNotNull(ready, "target did not publish:\n" + target.stderrTail());
            try (HostJvm init = HostJvm.start(hosts, hosts.host("h0"), workerEnv(), "initiator", "ctx-b", "gen-b",
                    field(ready, 2), "64KiB", "stream", "8", "100", "20000")) {
                assertNotNull(init.await(l -> l.startsWith("XFER 20 "), START), "stream did not start:\n" + init.stderrTail());
                hosts.cutLink(hosts.host("h1"));
                Thread.sleep(2000);
                hosts.restoreLink(hosts.host("h1"));
                assertEquals(0, init.exit(START), "initiator failed:\n" + init.lines() + "\n" + init.stderrTail());
                List<String> xfers = init.lines().stream().filter(l -> l.startsWith("XFER")).toList();
                assertTrue(xfers.stream().allMatch(l -> field(l, 3).equals("DONE")),
                        "a transfer failed or outlived 20 s across a 2 s cut: " + xfers);
                assertNotNull(target.await(l -> l.startsWith("CRC"), Duration.ofSeconds(20)), target.lines().toString());
                long notes = target.lines().stream().filter(l -> l.startsWith("NOTIF") && l.contains(" seq-")).count();
                assertEquals(xfers.size(), notes, "every WRITE's notification must arrive after the link is back");
            }
            assertEquals(0, target.exit(Duration.ofSeconds(30)), target.stderrTail());
        }
    }
}
