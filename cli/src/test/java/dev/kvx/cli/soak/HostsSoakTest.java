package dev.kvx.cli.soak;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvx.cli.Main;
import dev.kvx.cli.hosts.EtcdProcess;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kvx soak --hosts 3} end to end with short phases: two prefill workers in h0, a decode worker in
 * h1 and one in h2, etcd in a host of its own; h1's link cut, then h1 killed (its worker restarted under
 * the same name) during the burst, while decode-1's pairs keep serving; the report holds the hosts, peers,
 * lanes and faults, and every invariant holds. Skipped with the reason only where network namespaces cannot be made here.
 */
class HostsSoakTest {
    /** etcd on PATH (or KVX_ETCD), else what ci/provision-etcd.sh installs (as root); skips without one. */
    static String etcdBinary() throws Exception {
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
            Assumptions.assumeTrue(done && p.exitValue() == 0 && !out.isEmpty(), "skipped: no etcd and " + script + " could not install it");
            return out;
        }
    }

    private static String namespacesHere() throws Exception {
        Process p = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }

    @Test
    void aShortRunAcrossThreeHostsWithALinkCutAndAHostKillKeepsEveryInvariant(@TempDir Path dir) throws Exception {
        etcdBinary();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int status = Main.run(new String[] {"soak", "--hosts", "3", "--warmup", "1", "--burst", "8", "--idle", "3", "--probes", "4",
            "--concurrency", "8", "--timeout-ms", "1500", "--faults", "none", "--cut-link", "h1@2:1.5", "--kill-host", "h1@5:1",
            "--report", dir.toString()}, out, out);
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(text);
        Assumptions.assumeFalse(status == 2 && text.contains("kvx soak --hosts:"), "skipped: " + text);
        Path json = dir.resolve("report.json");
        assertTrue(Files.exists(json), text);
        JsonNode report = new ObjectMapper().readTree(json.toFile());
        JsonNode inv = report.get("invariants");
        assertEquals(0, status, text);
        assertTrue(report.get("ok").asBoolean(), inv.toString());
        assertEquals(0, inv.get("requestsWithoutOutcome").asLong(), "every request has an outcome");
        assertEquals(0, inv.get("duplicateOutcomes").asLong(), "exactly one outcome per side");
        assertEquals(0, inv.get("contextOutcomesMissing").asLong());
        assertEquals(0, inv.get("generationOutcomesMissing").asLong());
        assertEquals(0, inv.get("contextBlocksLeaked").asLong());
        assertEquals(0, inv.get("generationBlocksLeaked").asLong());
        assertEquals(0, inv.get("corruptOrInconsistent").asLong());
        assertEquals(0, inv.get("probesFailed").asLong(), "every pair serves after the faults");
        assertEquals(0, inv.get("hostFaultsWithoutRecovery").asLong());
        assertEquals(2, inv.get("hostFaultsRun").asLong());

        JsonNode hosts = report.get("hosts");
        assertEquals(List.of("h0", "h1", "h2", "etcd"), names(hosts.get("hosts"), "name"));
        assertTrue(hosts.get("etcd").asText().startsWith("http://10.231.0."), hosts.get("etcd").asText());
        JsonNode peers = hosts.get("peers");
        assertEquals(List.of("prefill-0", "prefill-1", "decode-0", "decode-1"), names(peers, "name"));
        for (JsonNode p : peers) {
            assertEquals(2, p.get("sessions").size(), "N x M: every worker has a session with both of the other role: " + p);
        }
        assertEquals(2, peers.get(2).get("starts").asInt(), "decode-0 restarted with its host, under the same name");
        assertEquals(1, peers.get(3).get("starts").asInt(), "decode-1, in h2, was not touched");
        assertTrue(hosts.get("ucxLanes").get("decode-0").toString().contains("tcp/eth0"), "UCX carried the data over TCP: "
                + hosts.get("ucxLanes"));
        JsonNode faults = hosts.get("faults");
        assertEquals(List.of("cut-link", "kill-host"), names(faults, "kind"));
        for (JsonNode f : faults) {
            assertEquals("done", f.get("status").asText(), f.toString());
            assertTrue(f.get("start").asDouble() > 0 && f.get("end").asDouble() > f.get("start").asDouble(), "start and end: " + f);
            assertTrue(f.get("recoveredMsAfterEnd").asDouble() >= 0, "an affected pair completed a request after it: " + f);
            assertTrue(f.get("othersCompleted").asLong() > 0, "decode-1's pairs kept serving while decode-0's host was cut or dead: " + f);
        }
        assertEquals(4, hosts.get("pairs").size());
        for (JsonNode p : hosts.get("pairs")) {
            assertTrue(p.get("completed").asLong() > 0, "every pair moved data: " + p);
        }
        assertTrue(text.contains("cross-host faults:") && text.contains("soak: OK"), text);
        assertTrue(Files.readString(dir.resolve("report.html")).contains("Cross-host faults"));
        for (String ns : namespacesHere().lines().toList()) {
            assertFalse(ns.startsWith("kvx" + ProcessHandle.current().pid() + "."), "a namespace of the run is left: " + ns);
        }
    }

    @Test
    void badHostOptionsAreRejectedWithAClearMessage() {
        assertBad("--hosts must be at least 2", "--hosts", "1");
        assertBad("need --hosts N", "--cut-link", "h1@3");
        assertBad("--cut-link takes HOST@S[:D]", "--hosts", "3", "--cut-link", "h1");
        assertBad("names host 'h7', but the hosts are [h0, h1, h2]", "--hosts", "3", "--kill-host", "h7@3");
        assertBad("(etcd's host: use --restart-etcd-at)", "--hosts", "3", "--cut-link", "etcd@3");
        assertBad("after the load", "--hosts", "2", "--cut-link", "h1@31");
        assertBad("past the idle phase", "--hosts", "2", "--cut-link", "h1@29:9");
        assertBad("--restart-etcd-at takes S[:D]", "--hosts", "2", "--restart-etcd-at", "soon");
        assertBad("across hosts use --kill-host", "--hosts", "2", "--kill-generation-at", "3");
        assertBad("--loss-percent must be in (0, 100]", "--hosts", "2", "--loss", "h1@3", "--loss-percent", "0");
        assertBad("the duration must be more than 0", "--hosts", "2", "--cut-link", "h1@3:0");
        assertBad("overlap on the same host", "--hosts", "2", "--cut-link", "h1@3:2", "--kill-host", "h1@4");
        // the hostile peer attacks the one-host soak's control channels on loopback; across hosts it is refused
        assertBad("--hostile-peer is for the one-host soak", "--hosts", "2", "--hostile-peer");
        assertBad("run it without --hosts", "--hostile-peer", "--hosts", "3", "--cut-link", "none");
    }

    private static void assertBad(String message, String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        String[] all = new String[args.length + 1];
        all[0] = "soak";
        System.arraycopy(args, 0, all, 1, args.length);
        int status = Main.run(all, out, out);
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(2, status, text);
        assertTrue(text.contains(message), "expected '" + message + "' in: " + text);
    }

    private static List<String> names(JsonNode array, String field) {
        return java.util.stream.StreamSupport.stream(array.spliterator(), false).map(n -> n.get(field).asText()).toList();
    }
}
