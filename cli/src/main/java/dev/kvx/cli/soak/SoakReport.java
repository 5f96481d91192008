package dev.kvx.cli.soak;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * The end of a soak run: a terminal table per phase, {@code report.json} (Jackson) with the same
 * figures, the parameters and the timeline, {@code report.html} ({@link ReportHtml}) and, where a
 * headless browser is here, its screenshot {@code report.png}. Latency distributions are HdrHistograms.
 * Decides the exit status from the invariants.
 */
final class SoakReport {
    private static final String[] OUTCOMES = {"COMPLETED", "TIMED_OUT", "CANCELLED", "FAILED", "REJECTED", "KILLED", "CORRUPT",
        "INCONSISTENT", "NONE"};
    private final SoakOptions o;
    private final List<SoakDriver.Req> requests;
    private final Map<SoakDriver.Phase, long[]> windows;
    private final List<ReportDocument.Sample> timeline;
    private final List<ReportDocument.Event> events;
    private final String ctxBye;
    private final String genBye;
    private final long killNanos;
    private final HostileReport hostile;

    SoakReport(SoakOptions o, List<SoakDriver.Req> requests, Map<SoakDriver.Phase, long[]> windows, List<ReportDocument.Sample> timeline,
               List<ReportDocument.Event> events, String ctxBye, String genBye, long killNanos, HostileReport hostile) {
        this.killNanos = killNanos;
        this.hostile = hostile;
        this.o = o;
        this.requests = requests;
        this.windows = windows;
        this.timeline = timeline;
        this.events = events;
        this.ctxBye = ctxBye;
        this.genBye = genBye;
    }

    private static long field(String bye, String key) {
        for (String f : bye.split(" ")) {
            if (f.startsWith(key + "=")) {
                return Long.parseLong(f.substring(key.length() + 1));
            }
        }
        return -1;
    }

    List<ReportDocument.PhaseFigures> figures() {
        List<ReportDocument.PhaseFigures> out = new ArrayList<>();
        for (SoakDriver.Phase p : SoakDriver.Phase.values()) {
            List<SoakDriver.Req> rs = requests.stream().filter(r -> r.phase == p).toList();
            Map<String, Long> counts = new LinkedHashMap<>();
            for (String k : OUTCOMES) {
                counts.put(k, rs.stream().filter(r -> r.outcome().equals(k)).count());
            }
            Histogram latency = new Histogram(SoakTimeline.HIGHEST_NANOS, 3);
            rs.stream().filter(r -> r.outcome().equals("COMPLETED")).forEach(r -> latency.recordValue(clamp(r.gen.latencyNanos())));
            Histogram late = new Histogram(SoakTimeline.HIGHEST_NANOS, 3);
            rs.stream().flatMap(r -> Stream.of(r.ctx, r.gen)).filter(x -> x != null && x.status().equals("TIMED_OUT"))
                    .forEach(x -> late.recordValue(clamp(x.latencyNanos() - o.timeoutMs * 1_000_000L)));
            long[] w = windows.get(p);
            double seconds = w == null ? 0 : Math.max(1e-9, (w[1] - w[0]) / 1e9);
            long bytes = rs.stream().filter(r -> r.outcome().equals("COMPLETED")).mapToLong(r -> r.blocks * o.blockBytes()).sum();
            boolean rates = p != SoakDriver.Phase.PROBES && seconds > 0;
            out.add(new ReportDocument.PhaseFigures(p.name(), counts, SoakTimeline.percentiles(latency), Math.round(seconds * 1000) / 1000.0,
                    rates ? latency.getTotalCount() / seconds : 0, rates ? bytes / seconds / 1e9 : 0, SoakTimeline.percentiles(late)));
        }
        return out;
    }

    private static long clamp(long nanos) {
        return Math.min(SoakTimeline.HIGHEST_NANOS, Math.max(0, nanos));
    }

    /** Prints the table, writes the files, returns the exit status. */
    int write(PrintWriter out) throws IOException {
        List<ReportDocument.PhaseFigures> figs = figures();
        long noOutcome = requests.stream().filter(r -> !r.done()).count();
        long corrupt = requests.stream().filter(r -> r.outcome().equals("CORRUPT") || r.outcome().equals("INCONSISTENT")).count();
        long probesFailed = requests.stream().filter(r -> r.phase == SoakDriver.Phase.PROBES && !r.outcome().equals("COMPLETED")).count();
        long probes = requests.stream().filter(r -> r.phase == SoakDriver.Phase.PROBES).count();
        long ctxQuarantined = field(ctxBye, "quarantined");
        long genQuarantined = field(genBye, "quarantined");
        long ctxLeakedBlocks = field(ctxBye, "capacity") - field(ctxBye, "freeBlocks") - ctxQuarantined;
        long genLeakedBlocks = field(genBye, "capacity") - field(genBye, "freeBlocks") - genQuarantined;
        long ctxMissing = field(ctxBye, "submitted") - field(ctxBye, "outcomes");
        long genMissing = field(genBye, "submitted") - field(genBye, "outcomes");
        boolean byeOk = !ctxBye.isEmpty() && !genBye.isEmpty();
        Map<String, Object> invariants = new LinkedHashMap<>();
        invariants.put("requests", requests.size());
        invariants.put("requestsWithoutOutcome", noOutcome);
        invariants.put("corruptOrInconsistent", corrupt);
        invariants.put("contextOutcomesMissing", ctxMissing);
        invariants.put("generationOutcomesMissing", genMissing);
        invariants.put("contextBlocksLeaked", ctxLeakedBlocks);
        invariants.put("generationBlocksLeaked", genLeakedBlocks);
        long freeWrites = field(genBye, "freeBlockWrites");
        invariants.put("writesIntoFreeBlocks", freeWrites);
        invariants.put("contextBlocksQuarantinedAtExit", ctxQuarantined);
        invariants.put("generationBlocksQuarantinedAtExit", genQuarantined);
        invariants.put("probes", probes);
        invariants.put("probesFailed", probesFailed);
        // not invariants but what the engines did to stay whole: peers marked unhealthy, quarantines proven, caught exceptions
        invariants.put("peersMarkedUnhealthy", field(ctxBye, "peersMarkedUnhealthy") + field(genBye, "peersMarkedUnhealthy"));
        invariants.put("quarantinesProvenByRelease", field(ctxBye, "quarantinesProvenByRelease") + field(genBye, "quarantinesProvenByRelease"));
        invariants.put("quarantinesProvenByPeerLoss", field(ctxBye, "quarantinesProvenByPeerLoss") + field(genBye, "quarantinesProvenByPeerLoss"));
        invariants.put("messagesRefused", field(ctxBye, "refused") + field(genBye, "refused"));
        invariants.put("peersLost", field(ctxBye, "peersLost") + field(genBye, "peersLost"));
        invariants.put("requestErrorsCaught", field(ctxBye, "requestErrors") + field(genBye, "requestErrors"));
        invariants.put("engineErrorsCaught", field(ctxBye, "engineErrors") + field(genBye, "engineErrors"));
        boolean ok = byeOk && noOutcome == 0 && corrupt == 0 && ctxMissing == 0 && genMissing == 0 && ctxLeakedBlocks == 0
                && genLeakedBlocks == 0 && ctxQuarantined == 0 && genQuarantined == 0 && freeWrites == 0 && probesFailed == 0
                && probes == o.probes;

        out.println();
        out.println("kvx soak report");
        out.printf(Locale.ROOT, "%-8s %6s %9s %9s %9s %6s %8s %6s %7s %8s %8s %8s %8s %8s %9s%n", "phase", "total", "completed", "timed out",
                "cancelled", "failed", "rejected", "killed", "corrupt", "p50 ms", "p99 ms", "max ms", "req/s", "GB/s", "late p99");
        for (ReportDocument.PhaseFigures f : figs) {
            long total = f.outcomes().values().stream().mapToLong(Long::longValue).sum();
            out.printf(Locale.ROOT, "%-8s %6d %9d %9d %9d %6d %8d %6d %7d %8.2f %8.2f %8.2f %8.1f %8.3f %9.2f%n", f.phase(), total,
                    f.outcomes().get("COMPLETED"), f.outcomes().get("TIMED_OUT"), f.outcomes().get("CANCELLED"), f.outcomes().get("FAILED"),
                    f.outcomes().get("REJECTED"), f.outcomes().get("KILLED"), f.outcomes().get("CORRUPT") + f.outcomes().get("INCONSISTENT"),
                    f.latencyMs().p50(), f.latencyMs().p99(), f.latencyMs().max(), f.requestsPerSecond(), f.gigabytesPerSecond(),
                    f.deadlineLatenessMs().p99());
        }
        out.printf(Locale.ROOT, "leaked: context %d blocks, generation %d blocks (slots are returned with every outcome);"
                + " still quarantined at exit: context %d, generation %d; writes into free blocks: %d (poison checked at every"
                + " allocation); requests without an outcome: %d; probes %d/%d completed%n",
                ctxLeakedBlocks, genLeakedBlocks, ctxQuarantined, genQuarantined, freeWrites, noOutcome, probes - probesFailed, probes);
        out.printf(Locale.ROOT, "engines: %d exception(s) inside request handling caught and turned into outcomes, %d outside;"
                        + " quarantines ended by proof: %d by the mover's release, %d by the peer's loss (never by a timer);"
                        + " %d time(s) a peer was marked unhealthy; %d peer(s) found dead; %d message(s) refused%n",
                invariants.get("requestErrorsCaught"), invariants.get("engineErrorsCaught"), invariants.get("quarantinesProvenByRelease"),
                invariants.get("quarantinesProvenByPeerLoss"), invariants.get("peersMarkedUnhealthy"), invariants.get("peersLost"),
                invariants.get("messagesRefused"));
        List<SoakDriver.Req> killed = requests.stream().filter(r -> r.outcome().equals("KILLED")).toList();
        if (!killed.isEmpty()) {
            Map<String, Long> ctxSide = new TreeMap<>();
            killed.forEach(r -> ctxSide.merge(r.ctx.status(), 1L, Long::sum));
            long worst = killed.stream().mapToLong(r -> r.ctx.latencyNanos()).max().orElse(0);
            long afterKill = killed.stream().mapToLong(r -> Math.max(0, r.ctxAtNanos - killNanos)).max().orElse(0);
            String line = String.format(Locale.ROOT, "requests of the killed generation worker, as the context side ended them: %s;"
                    + " the last %.1f ms after the kill; slowest %.1f ms after submission (kvTransferTimeout %d ms)", ctxSide,
                    afterKill / 1e6, worst / 1e6, o.timeoutMs);
            invariants.put("killedContextLastMsAfterKill", Math.round(afterKill / 1e6));
            invariants.put("killedContextOutcomes", ctxSide.toString());
            invariants.put("killedContextSlowestMs", Math.round(worst / 1e6));
            out.println(line);
        }
        for (ReportDocument.Event e : events) {
            out.printf(Locale.ROOT, "  %.1f s: %s%n", e.t(), e.text());
        }
        out.println("security: " + security(o));
        Map<String, Object> hostileSection = hostile == null ? null : hostile.write(out, requests);
        ok &= hostile == null || hostile.ok();

        Files.createDirectories(o.reportDir);
        ReportDocument doc = new ReportDocument(ok, parameters(), invariants, figs, events, timeline, null, hostileSection);
        Path html = o.reportDir.resolve("report.html");
        Files.writeString(html, ReportHtml.render(doc));
        Path png = o.reportDir.resolve("report.png");
        Files.deleteIfExists(png);
        String shot = ReportHtml.screenshot(html, png);
        Path json = o.reportDir.resolve("report.json");
        ReportJson.write(doc.withScreenshot(shot), json);
        out.println("report: " + json.toAbsolutePath() + " and " + html.toAbsolutePath());
        out.println("screenshot: " + shot);
        out.println(ok ? "soak: OK" : "soak: FAILED (see invariants" + (hostile == null ? "" : " and the hostile peer") + " above)");
        return ok ? 0 : 1;
    }

    private Map<String, Object> parameters() {
        Map<String, Object> params = new TreeMap<>();
        params.put("warmupSeconds", o.warmupSeconds);
        params.put("burstSeconds", o.burstSeconds);
        params.put("idleSeconds", o.idleSeconds);
        params.put("probes", o.probes);
        params.put("burstConcurrency", o.burstConcurrency);
        params.put("buffers", o.buffers);
        params.put("timeoutMs", o.timeoutMs);
        params.put("blockBytes", o.blockBytes());
        params.put("poolBlocks", o.effectivePoolBlocks());
        params.put("meanInputTokens", o.meanInputTokens);
        params.put("maxInputTokens", o.maxInputTokens);
        params.put("tokensPerBlock", o.tokensPerBlock);
        params.put("layers", o.layers);
        params.put("kvHeads", o.kvHeads);
        params.put("headSize", o.headSize);
        params.put("dtypeBytes", o.dtypeBytes);
        params.put("killGenerationAt", o.killGenerationAt);
        params.put("seed", o.seed);
        params.put("faults", o.faults);
        params.put("security", security(o));
        params.put("hostilePeer", o.hostilePeer);
        return params;
    }

    /** How the run's workers are protected: for the first lines of output and the report. */
    static String security(SoakOptions o) {
        return "per-run secret (" + o.reportDir.resolve("kvx.secret") + ", mode 600, given to the workers as KVX_SECRET_FILE, never on a"
                + " command line), HMAC-SHA256 on every message under per-session keys, metadata only through kvx's control channel on"
                + " 127.0.0.1 after both sides proved the secret" + (o.hostilePeer ? "; --hostile-peer: a third process without it attacks during the burst" : "");
    }
}
