package dev.kvx.cli.soak;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvx.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Short real soak runs: two worker JVMs over real NIXL, faults on, the report's invariants checked. */
class SoakTest {
    private record Run(int status, String out, JsonNode report, String html) {}

    private static Run soak(Path dir, String... extra) throws Exception {
        String[] base = {"soak", "--warmup", "1", "--burst", "4", "--idle", "2", "--probes", "5", "--concurrency", "8",
            "--timeout-ms", "1500", "--report", dir.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int status = Main.run(args, out, out);
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(text);
        Path json = dir.resolve("report.json");
        assertTrue(Files.exists(json), text);
        return new Run(status, text, new ObjectMapper().readTree(json.toFile()), Files.readString(dir.resolve("report.html")));
    }

    private static void assertInvariants(Run r) {
        JsonNode inv = r.report().get("invariants");
        assertEquals(0, r.status(), r.out());
        assertTrue(r.report().get("ok").asBoolean());
        assertEquals(0, inv.get("requestsWithoutOutcome").asLong(), "every request has an outcome");
        assertEquals(0, inv.get("contextOutcomesMissing").asLong(), "exactly one outcome per submitted request (context)");
        assertEquals(0, inv.get("generationOutcomesMissing").asLong(), "exactly one outcome per submitted request (generation)");
        assertEquals(0, inv.get("contextBlocksLeaked").asLong());
        assertEquals(0, inv.get("generationBlocksLeaked").asLong());
        assertEquals(0, inv.get("corruptOrInconsistent").asLong(), "every completed request's blocks verified");
        assertEquals(5, inv.get("probes").asLong());
        assertEquals(0, inv.get("probesFailed").asLong(), "the system serves again after the burst");
    }

    @Test
    void shortSoakWithEveryFaultTypeKeepsEveryInvariantAndTheReportHoldsTheFigures(@TempDir Path dir) throws Exception {
        Run r = soak(dir, "--faults", "silent-gen=0.05,no-ack=0.05,no-write=0.05,drop-notif=0.02,exception=0.05", "--seed", "7");
        assertInvariants(r);
        JsonNode phases = r.report().get("phases");
        assertEquals(4, phases.size());
        JsonNode burst = phases.get(1);
        assertEquals("BURST", burst.get("phase").asText());
        long completed = burst.get("outcomes").get("COMPLETED").asLong();
        assertTrue(completed > 0, r.out());
        long faulted = burst.get("outcomes").get("TIMED_OUT").asLong() + burst.get("outcomes").get("FAILED").asLong()
                + burst.get("outcomes").get("CANCELLED").asLong();
        assertTrue(faulted > 0, "5% fault rates must show up as non-completed outcomes: " + r.out());
        assertTrue(r.out().contains(String.format("%d", completed)), "the terminal table shows the JSON's figures");
        assertEquals(1500, r.report().get("parameters").get("timeoutMs").asLong());
        assertTrue(r.report().get("timeline").size() > 3);
        assertTrue(r.html().contains("<canvas id=\"chart-latency\"") && r.html().contains("free KV blocks"), "the HTML has the timeline");
        // report.json reads back into the report's own types (Jackson, both ways)
        ReportDocument typed = ReportJson.read(dir.resolve("report.json"));
        assertEquals(r.report().get("timeline").size(), typed.timeline().size());
        // HdrHistogram figures: per phase and per second
        assertTrue(burst.get("latencyMs").get("p99").asDouble() >= burst.get("latencyMs").get("p50").asDouble(), burst.toString());
        assertEquals(completed, burst.get("latencyMs").get("count").asLong(), "every completed request's latency is in the histogram");
        assertTrue(typed.timeline().stream().anyMatch(s -> s.latencyMs().count() > 0), "per-second latency samples");
        assertTrue(typed.timeline().stream().anyMatch(s -> !s.faults().isEmpty()), "per-second fault markers at 5% rates");
        // the screenshot, where a browser is here (ci/test.sh makes sure of one)
        if (dev.kvx.cli.browser.HeadlessChromium.find().isPresent()) {
            assertTrue(Files.size(dir.resolve("report.png")) > 10_000, typed.screenshot());
            assertTrue(typed.screenshot().contains("6 chart(s) drawn") && typed.screenshot().contains("0 blank; no console errors"),
                    typed.screenshot());
        } else {
            assertTrue(typed.screenshot().startsWith("not taken: no headless browser"), typed.screenshot());
        }
        assertTrue(r.out().contains("in flight"), "live progress lines were printed");
    }

    @Test
    void killingTheGenerationWorkerMidBurstLeavesTheContextSideWholeAndTheNewWorkerServed(@TempDir Path dir) throws Exception {
        // silent-gen keeps context requests waiting for request info at any moment, so the kill always
        // finds some whose peer is gone (without it, every request in flight may already be written).
        Run r = soak(dir, "--burst", "6", "--kill-generation-at", "3", "--faults", "silent-gen=0.3");
        assertInvariants(r);
        assertTrue(r.out().contains("SIGKILL generation worker"), r.out());
        JsonNode inv = r.report().get("invariants");
        assertTrue(r.report().get("phases").get(1).get("outcomes").get("KILLED").asLong() > 0, "the kill hit requests in flight: " + r.out());
        assertTrue(inv.has("killedContextOutcomes"), "requests of the dead peer were ended by the context side: " + inv);
        assertFalse(inv.get("killedContextOutcomes").asText().contains("NONE"), inv.toString());
        // The context side's peer check finds the dead process: its requests end FAILED, not at their deadline.
        assertTrue(inv.get("killedContextOutcomes").asText().contains("FAILED"), inv.toString());
        assertTrue(inv.get("peersLost").asLong() >= 1, inv.toString());
        assertTrue(inv.get("killedContextLastMsAfterKill").asLong() < 1500, "all ended before a deadline could: " + inv);
        // Their deadline is kvTransferTimeout after submission; the bound is generous (scheduling on a loaded
        // machine) but a transfer left to hang, as in the reference, would never come in under it.
        assertTrue(inv.get("killedContextSlowestMs").asLong() <= 2 * 1500, "context side ended them by their deadline: " + inv);
        JsonNode probes = r.report().get("phases").get(3);
        assertEquals(5, probes.get("outcomes").get("COMPLETED").asLong(), "the new generation worker is served");
    }

    @Test
    void theProbesWaitForPeersStillHeldUnhealthyByALateWrite(@TempDir Path dir) throws Exception {
        // A late write lands 2 x timeout + 0.5 s after its request was taken; from the generation side's
        // quarantine timeout until its proof, the context side is held unhealthy and gets no new work. With no
        // idle phase the probes would come while late writes are pending and be refused; they wait (bounded).
        Run r = soak(dir, "--burst", "3", "--idle", "0", "--faults", "late-write=0.3", "--seed", "5");
        assertInvariants(r);
        assertTrue(r.report().get("invariants").get("peersMarkedUnhealthy").asLong() > 0, "late writes marked a peer: " + r.out());
        ReportDocument typed = ReportJson.read(dir.resolve("report.json"));
        ReportDocument.Event wait = typed.events().stream().filter(e -> e.kind().equals("settle")).findFirst().orElseThrow();
        assertTrue(wait.text().contains("waited") && wait.text().contains("at first:"), "the probes had something to wait for: " + wait);
        double probesStart = typed.events().stream().filter(e -> e.text().equals("PROBES starts")).findFirst().orElseThrow().t();
        assertTrue(wait.t() <= probesStart, "the wait comes before the probes: " + typed.events());
    }

    @Test
    void badOptionsAreRejectedWithAClearMessage() {
        assertBad("unknown fault 'gremlins'", "--faults", "gremlins=0.1");
        assertBad("fault rate for no-ack must be a number in [0,1], got 'lots'", "--faults=no-ack=lots");
        assertBad("fault rate for no-ack must be in [0,1], got 2.0", "--faults=no-ack=2");
        assertBad("--concurrency must be positive, got 0", "--concurrency", "0");
        assertBad("'many' is not an int", "--concurrency=many");
        assertBad("'soon' is not a double", "--kill-generation-at", "soon");
        assertBad("falls after the burst", "--kill-generation-at", "99");
        assertBad("--max-input must be >= --mean-input", "--mean-input=64", "--max-input=32");
        assertBad("Possible solutions: --burst", "--burts", "3");
        assertBad("--hostile-peer attacks during the burst: give --burst > 0", "--hostile-peer", "--burst", "0");
        assertBad("--hostile-rate must be 0..100000 per second", "--hostile-peer", "--hostile-rate", "-1");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        assertEquals(0, Main.run(new String[] {"soak", "--help"}, out, out));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("--kill-generation-at"));
    }

    @Test
    void theWorkerNeedsItsNamedOptions() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        assertEquals(2, Main.run(new String[] {"worker", "--role=gen"}, out, out));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("Missing required options"), bytes.toString(StandardCharsets.UTF_8));
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
        assertTrue(text.contains("Try 'kvx soak --help'"), text);
    }
}
