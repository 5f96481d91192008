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
    private final List<SoakRequest> requests;
    private final Map<SoakPhase, long[]> windows;
    private final List<ReportDocument.Sample> timeline;
    private final List<ReportDocument.Event> events;
    private final List<String> ctxByes;
    private final List<String> genByes;
    private final long killNanos;
    private HostsReport hosts;
    private HostileReport hostile;

    /**
     * @param ctxByes the closing ({@code BYE}) lines of the context workers alive at the end; {@code genByes} likewise
     * @param killNanos when {@code --kill-generation-at} killed the generation worker (0: no kill)
     */
    SoakReport(SoakOptions o, List<SoakRequest> requests, Map<SoakPhase, long[]> windows, List<ReportDocument.Sample> timeline,
               List<ReportDocument.Event> events, List<String> ctxByes, List<String> genByes, long killNanos) {
        this.killNanos = killNanos;
        this.o = o;
        this.requests = requests;
        this.windows = windows;
        this.timeline = timeline;
        this.events = events;
        this.ctxByes = ctxByes;
        this.genByes = genByes;
    }

    /** Adds the hosts, peers, UCX lanes and faults of a run across hosts. */
    SoakReport withHosts(HostsReport h) {
        this.hosts = h;
        return this;
    }

    /** Adds the hostile peer's section ({@code --hostile-peer}); null for none. */
    SoakReport withHostile(HostileReport h) {
        this.hostile = h;
        return this;
    }

    /** The first lines of a run: the KV shape and sizes, the phases and the faults. */
    static void printHeader(SoakOptions o, PrintWriter out, String extra) {
        long blockBytes = o.blockBytes();
        out.printf(Locale.ROOT, "kvx soak: KV shape %d layers x %d KV heads x head %d x %d B, %d tokens/block = %s/block; pool %d blocks (%s) per worker;"
                        + " input ~%d tokens (max %d) = ~%d blocks/request; buffers %d per worker; kvTransferTimeout %d ms%n",
                o.layers, o.kvHeads, o.headSize, o.dtypeBytes, o.tokensPerBlock, SoakDriver.human(blockBytes), o.effectivePoolBlocks(),
                SoakDriver.human(blockBytes * o.effectivePoolBlocks()), o.meanInputTokens, o.maxInputTokens,
                (o.meanInputTokens + o.tokensPerBlock - 1) / o.tokensPerBlock, o.buffers, o.timeoutMs);
        out.printf(Locale.ROOT, "phases: warm-up %d s at concurrency %d, burst %d s at %d, idle %d s, %d recovery probes; faults: %s%s%n",
                o.warmupSeconds, o.warmupConcurrency, o.burstSeconds, o.burstConcurrency, o.idleSeconds, o.probes, SoakFaults.format(o.faults),
                extra);
        out.println("security: " + security(o));
    }

    /** A field of the workers' BYE lines, summed (-1 when a line lacks it). */
    private static long field(List<String> byes, String key) {
        long sum = 0;
        for (String bye : byes) {
            long v = -1;
            for (String f : bye.split(" ")) {
                if (f.startsWith(key + "=")) {
                    v = Long.parseLong(f.substring(key.length() + 1));
                }
            }
            if (v < 0) {
                return -1;
            }
            sum += v;
        }
        return sum;
    }

    List<ReportDocument.PhaseFigures> figures() {
        List<ReportDocument.PhaseFigures> out = new ArrayList<>();
        for (SoakPhase p : SoakPhase.values()) {
            List<SoakRequest> rs = requests.stream().filter(r -> r.phase == p).toList();
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
            boolean rates = p != SoakPhase.PROBES && seconds > 0;
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
        long probesFailed = requests.stream().filter(r -> r.phase == SoakPhase.PROBES && !r.outcome().equals("COMPLETED")).count();
        long probes = requests.stream().filter(r -> r.phase == SoakPhase.PROBES).count();
        long ctxQuarantined = field(ctxByes, "quarantined");
        long genQuarantined = field(genByes, "quarantined");
        long ctxLeakedBlocks = field(ctxByes, "capacity") - field(ctxByes, "freeBlocks") - ctxQuarantined;
        long genLeakedBlocks = field(genByes, "capacity") - field(genByes, "freeBlocks") - genQuarantined;
        long ctxMissing = field(ctxByes, "submitted") - field(ctxByes, "outcomes");
        long genMissing = field(genByes, "submitted") - field(genByes, "outcomes");
        boolean byeOk = !ctxByes.isEmpty() && !genByes.isEmpty() && Stream.concat(ctxByes.stream(), genByes.stream()).noneMatch(String::isEmpty);
        long duplicates = requests.stream().mapToLong(SoakRequest::duplicates).sum();
        Map<String, Object> invariants = new LinkedHashMap<>();
        invariants.put("requests", requests.size());
        invariants.put("requestsWithoutOutcome", noOutcome);
        invariants.put("duplicateOutcomes", duplicates);
        invariants.put("corruptOrInconsistent", corrupt);
        invariants.put("contextOutcomesMissing", ctxMissing);
        invariants.put("generationOutcomesMissing", genMissing);
        invariants.put("contextBlocksLeaked", ctxLeakedBlocks);
        invariants.put("generationBlocksLeaked", genLeakedBlocks);
        long freeWrites = field(genByes, "freeBlockWrites");
        invariants.put("writesIntoFreeBlocks", freeWrites);
        invariants.put("contextBlocksQuarantinedAtExit", ctxQuarantined);
        invariants.put("generationBlocksQuarantinedAtExit", genQuarantined);
        invariants.put("probes", probes);
        invariants.put("probesFailed", probesFailed);
        // not invariants but what the engines did to stay whole: peers marked unhealthy, quarantines proven, caught exceptions
        invariants.put("peersMarkedUnhealthy", field(ctxByes, "peersMarkedUnhealthy") + field(genByes, "peersMarkedUnhealthy"));
        invariants.put("quarantinesProvenByRelease", field(ctxByes, "quarantinesProvenByRelease") + field(genByes, "quarantinesProvenByRelease"));
        invariants.put("quarantinesProvenByPeerLoss", field(ctxByes, "quarantinesProvenByPeerLoss") + field(genByes, "quarantinesProvenByPeerLoss"));
        invariants.put("messagesRefused", field(ctxByes, "refused") + field(genByes, "refused"));
        invariants.put("peersLost", field(ctxByes, "peersLost") + field(genByes, "peersLost"));
        invariants.put("requestErrorsCaught", field(ctxByes, "requestErrors") + field(genByes, "requestErrors"));
        invariants.put("engineErrorsCaught", field(ctxByes, "engineErrors") + field(genByes, "engineErrors"));
        boolean ok = byeOk && noOutcome == 0 && corrupt == 0 && ctxMissing == 0 && genMissing == 0 && ctxLeakedBlocks == 0
                && genLeakedBlocks == 0 && ctxQuarantined == 0 && genQuarantined == 0 && freeWrites == 0 && probesFailed == 0
                && probes == o.probes && duplicates == 0;
        if (hosts != null) {
            ok &= hosts.addInvariants(invariants);
        }

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
        List<SoakRequest> killed = requests.stream().filter(r -> r.outcome().equals("KILLED")).toList();
        if (!killed.isEmpty() && killNanos != 0) {
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
        if (hosts != null) {
            hosts.print(out);
        }
        out.println("security: " + security(o));
        Map<String, Object> hostileSection = hostile == null ? null : hostile.write(out, requests);
        ok &= hostile == null || hostile.ok();

        Files.createDirectories(o.reportDir);
        ReportDocument doc = new ReportDocument(ok, parameters(), invariants, figs, events, timeline,
                hosts == null ? null : hosts.section(), null, hostileSection);
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
        if (o.hostsOptions.enabled()) {
            params.put("hosts", o.hostsOptions.hosts);
            params.put("prefillWorkers", o.hostsOptions.prefill);
            params.put("decodeWorkers", o.hostsOptions.decode);
            params.put("hostFaults", o.hostFaults.stream().map(HostFault::toString).toList());
            params.put("ucxTls", o.hostsOptions.ucxTls);
            params.put("lossPercent", o.hostsOptions.lossPercent);
            params.put("delayMs", o.hostsOptions.delayMs);
        }
        params.put("security", security(o));
        params.put("hostilePeer", o.hostilePeer);
        return params;
    }

    /** How the run's workers are protected: for the first lines of output and the report. */
    static String security(SoakOptions o) {
        String secret = "per-run secret (" + o.reportDir.resolve("kvx.secret") + ", mode 600, given to the workers as KVX_SECRET_FILE, never on a"
                + " command line), HMAC-SHA256 on every message under per-session keys, ";
        if (o.hostsOptions.enabled()) {
            return secret + "metadata through etcd in the clear (NIXL's etcd client has no TLS or auth: who reads etcd reaches the pool;"
                    + " here etcd is reachable only on the run's private bridge), a session only after both sides proved the secret";
        }
        return secret + "metadata only through kvx's control channel on 127.0.0.1 after both sides proved the secret"
                + (o.hostilePeer ? "; --hostile-peer: a third process without it attacks during the burst" : "");
    }
}
