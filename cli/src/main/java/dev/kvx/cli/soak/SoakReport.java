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

/**
 * The end of a soak run: a terminal table per phase, {@code report.json} with the same figures and
 * the parameters, and {@code report.html} with the timeline (in-flight requests, outcomes per second,
 * buffer slots, free blocks). Decides the exit status from the invariants.
 */
final class SoakReport {
    private static final String[] OUTCOMES = {"COMPLETED", "TIMED_OUT", "CANCELLED", "FAILED", "REJECTED", "KILLED", "CORRUPT",
        "INCONSISTENT", "NONE"};
    private final SoakOptions o;
    private final List<SoakDriver.Req> requests;
    private final Map<SoakDriver.Phase, long[]> windows;
    private final List<SoakDriver.Sample> timeline;
    private final List<String> events;
    private final String ctxBye;
    private final String genBye;
    private final long t0;
    private final long killNanos;

    SoakReport(SoakOptions o, List<SoakDriver.Req> requests, Map<SoakDriver.Phase, long[]> windows, List<SoakDriver.Sample> timeline,
               List<String> events, String ctxBye, String genBye, long t0, long killNanos) {
        this.killNanos = killNanos;
        this.o = o;
        this.requests = requests;
        this.windows = windows;
        this.timeline = timeline;
        this.events = events;
        this.ctxBye = ctxBye;
        this.genBye = genBye;
        this.t0 = t0;
    }

    /** Figures of one phase. */
    record PhaseFigures(String phase, Map<String, Long> outcomes, double p50Ms, double p99Ms, double maxMs, double seconds,
                        double requestsPerSecond, double gigabytesPerSecond, double latenessP99Ms, double latenessMaxMs) {}

    private static long field(String bye, String key) {
        for (String f : bye.split(" ")) {
            if (f.startsWith(key + "=")) {
                return Long.parseLong(f.substring(key.length() + 1));
            }
        }
        return -1;
    }

    private static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[(int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] / 1e6;
    }

    List<PhaseFigures> figures() {
        List<PhaseFigures> out = new ArrayList<>();
        for (SoakDriver.Phase p : SoakDriver.Phase.values()) {
            List<SoakDriver.Req> rs = requests.stream().filter(r -> r.phase == p).toList();
            Map<String, Long> counts = new LinkedHashMap<>();
            for (String k : OUTCOMES) {
                counts.put(k, rs.stream().filter(r -> r.outcome().equals(k)).count());
            }
            long[] lat = rs.stream().filter(r -> r.outcome().equals("COMPLETED")).mapToLong(r -> r.gen.latencyNanos()).sorted().toArray();
            long[] late = rs.stream().flatMap(r -> java.util.stream.Stream.of(r.ctx, r.gen))
                    .filter(x -> x != null && x.status().equals("TIMED_OUT"))
                    .mapToLong(x -> x.latencyNanos() - o.timeoutMs * 1_000_000L).sorted().toArray();
            long[] w = windows.get(p);
            double seconds = w == null ? 0 : Math.max(1e-9, (w[1] - w[0]) / 1e9);
            long bytes = rs.stream().filter(r -> r.outcome().equals("COMPLETED")).mapToLong(r -> r.blocks * o.blockBytes()).sum();
            out.add(new PhaseFigures(p.name(), counts, pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1.0), seconds,
                    p == SoakDriver.Phase.PROBES || seconds == 0 ? 0 : lat.length / seconds,
                    p == SoakDriver.Phase.PROBES || seconds == 0 ? 0 : bytes / seconds / 1e9, pct(late, 0.99), pct(late, 1.0)));
        }
        return out;
    }

    /** Prints the table, writes the files, returns the exit status. */
    int write(PrintWriter out) throws IOException {
        List<PhaseFigures> figs = figures();
        long noOutcome = requests.stream().filter(r -> !r.done()).count();
        long corrupt = requests.stream().filter(r -> r.outcome().equals("CORRUPT") || r.outcome().equals("INCONSISTENT")).count();
        long probesFailed = requests.stream().filter(r -> r.phase == SoakDriver.Phase.PROBES && !r.outcome().equals("COMPLETED")).count();
        long probes = requests.stream().filter(r -> r.phase == SoakDriver.Phase.PROBES).count();
        long ctxLeakedBlocks = field(ctxBye, "capacity") - field(ctxBye, "freeBlocks");
        long genLeakedBlocks = field(genBye, "capacity") - field(genBye, "freeBlocks");
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
        invariants.put("probes", probes);
        invariants.put("probesFailed", probesFailed);
        // not invariants but what the engines did to stay whole: disconnects for safety, reconnects, caught exceptions
        invariants.put("peersInvalidated", field(ctxBye, "peersInvalidated") + field(genBye, "peersInvalidated"));
        invariants.put("peersReconnected", field(ctxBye, "peersReconnected") + field(genBye, "peersReconnected"));
        invariants.put("peersLost", field(ctxBye, "peersLost") + field(genBye, "peersLost"));
        invariants.put("requestErrorsCaught", field(ctxBye, "requestErrors") + field(genBye, "requestErrors"));
        invariants.put("engineErrorsCaught", field(ctxBye, "engineErrors") + field(genBye, "engineErrors"));
        boolean ok = byeOk && noOutcome == 0 && corrupt == 0 && ctxMissing == 0 && genMissing == 0 && ctxLeakedBlocks == 0
                && genLeakedBlocks == 0 && probesFailed == 0 && probes == o.probes;

        out.println();
        out.println("kvx soak report");
        out.printf(Locale.ROOT, "%-8s %6s %9s %9s %9s %6s %8s %6s %7s %8s %8s %8s %8s %8s %9s%n", "phase", "total", "completed", "timed out",
                "cancelled", "failed", "rejected", "killed", "corrupt", "p50 ms", "p99 ms", "max ms", "req/s", "GB/s", "late p99");
        for (PhaseFigures f : figs) {
            long total = f.outcomes().values().stream().mapToLong(Long::longValue).sum();
            out.printf(Locale.ROOT, "%-8s %6d %9d %9d %9d %6d %8d %6d %7d %8.2f %8.2f %8.2f %8.1f %8.3f %9.2f%n", f.phase(), total,
                    f.outcomes().get("COMPLETED"), f.outcomes().get("TIMED_OUT"), f.outcomes().get("CANCELLED"), f.outcomes().get("FAILED"),
                    f.outcomes().get("REJECTED"), f.outcomes().get("KILLED"), f.outcomes().get("CORRUPT") + f.outcomes().get("INCONSISTENT"),
                    f.p50Ms(), f.p99Ms(), f.maxMs(), f.requestsPerSecond(), f.gigabytesPerSecond(), f.latenessP99Ms());
        }
        out.printf(Locale.ROOT, "leaked: context %d blocks, generation %d blocks (slots are returned with every outcome);"
                + " requests without an outcome: %d; probes %d/%d completed%n", ctxLeakedBlocks, genLeakedBlocks, noOutcome,
                probes - probesFailed, probes);
        out.printf(Locale.ROOT, "engines: %d exception(s) inside request handling caught and turned into outcomes, %d outside;"
                        + " %d peer disconnect(s) for memory safety, %d reconnect(s); %d peer(s) found dead%n",
                invariants.get("requestErrorsCaught"), invariants.get("engineErrorsCaught"), invariants.get("peersInvalidated"),
                invariants.get("peersReconnected"), invariants.get("peersLost"));
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
        for (String e : events) {
            out.println("  " + e);
        }

        Files.createDirectories(o.reportDir);
        Path json = o.reportDir.resolve("report.json");
        Files.writeString(json, json(figs, invariants, ok));
        Path html = o.reportDir.resolve("report.html");
        Files.writeString(html, html(figs, invariants, ok));
        out.println("report: " + json.toAbsolutePath() + " and " + html.toAbsolutePath());
        out.println(ok ? "soak: OK" : "soak: FAILED (see invariants above)");
        return ok ? 0 : 1;
    }

    private String json(List<PhaseFigures> figs, Map<String, Object> invariants, boolean ok) {
        StringBuilder sb = new StringBuilder("{\n");
        sb.append("  \"ok\": ").append(ok).append(",\n  \"parameters\": {");
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
        params.put("faults", o.faults.toString());
        appendMap(sb, params);
        sb.append("},\n  \"invariants\": {");
        appendMap(sb, invariants);
        sb.append("},\n  \"phases\": [\n");
        for (int i = 0; i < figs.size(); i++) {
            PhaseFigures f = figs.get(i);
            sb.append(String.format(Locale.ROOT, "    {\"phase\": \"%s\", \"outcomes\": {", f.phase()));
            appendMap(sb, new LinkedHashMap<>(f.outcomes()));
            sb.append(String.format(Locale.ROOT, "}, \"latencyMs\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}, \"seconds\": %.3f,"
                            + " \"requestsPerSecond\": %.2f, \"gigabytesPerSecond\": %.4f, \"deadlineLatenessMs\": {\"p99\": %.3f, \"max\": %.3f}}%s%n",
                    f.p50Ms(), f.p99Ms(), f.maxMs(), f.seconds(), f.requestsPerSecond(), f.gigabytesPerSecond(), f.latenessP99Ms(),
                    f.latenessMaxMs(), i + 1 < figs.size() ? "," : ""));
        }
        sb.append("  ],\n  \"events\": [");
        for (int i = 0; i < events.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append('"').append(events.get(i).replace("\"", "'")).append('"');
        }
        sb.append("],\n  \"timeline\": [\n");
        for (int i = 0; i < timeline.size(); i++) {
            SoakDriver.Sample s = timeline.get(i);
            sb.append(String.format(Locale.ROOT, "    {\"t\": %.1f, \"phase\": \"%s\", \"inFlight\": %d, \"completed\": %d, \"timedOut\": %d,"
                            + " \"cancelled\": %d, \"failed\": %d, \"other\": %d, \"ctxSlots\": %d, \"genSlots\": %d, \"ctxFreeBlocks\": %d,"
                            + " \"genFreeBlocks\": %d}%s%n", s.t(), s.phase(), s.inFlight(), s.completed(), s.timedOut(), s.cancelled(), s.failed(),
                    s.other(), s.ctxSlots(), s.genSlots(), s.ctxFree(), s.genFree(), i + 1 < timeline.size() ? "," : ""));
        }
        sb.append("  ]\n}\n");
        return sb.toString();
    }

    private static void appendMap(StringBuilder sb, Map<String, ?> m) {
        int i = 0;
        for (Map.Entry<String, ?> e : m.entrySet()) {
            Object v = e.getValue();
            sb.append(i++ == 0 ? "" : ", ").append('"').append(e.getKey()).append("\": ");
            if (v instanceof Number || v instanceof Boolean) {
                sb.append(v);
            } else {
                sb.append('"').append(String.valueOf(v).replace("\"", "'")).append('"');
            }
        }
    }

    private String html(List<PhaseFigures> figs, Map<String, Object> invariants, boolean ok) {
        int w = 900;
        int h = 180;
        double tMax = Math.max(1, timeline.isEmpty() ? 1 : timeline.get(timeline.size() - 1).t());
        StringBuilder sb = new StringBuilder();
        sb.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>kvx soak report</title><style>")
                .append("body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;")
                .append("padding:4px 8px;text-align:right}th{background:#f4f4f4}.ok{color:#176b1d}.bad{color:#b00020}")
                .append("svg{background:#fafafa;border:1px solid #ddd;margin:6px 0}</style></head><body>");
        sb.append("<h1>kvx soak report <span class=\"").append(ok ? "ok\">OK" : "bad\">FAILED").append("</span></h1>");
        sb.append("<p>").append(String.format(Locale.ROOT, "%d requests; KV block %s; pool %d blocks per side; %d buffer slots per side;"
                        + " kvTransferTimeout %d ms; faults %s", requests.size(), SoakDriver.human(o.blockBytes()), o.effectivePoolBlocks(),
                o.buffers, o.timeoutMs, o.faults)).append("</p><table><tr><th>phase</th>");
        for (String k : OUTCOMES) {
            sb.append("<th>").append(k.toLowerCase(Locale.ROOT)).append("</th>");
        }
        sb.append("<th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>req/s</th><th>GB/s</th><th>lateness p99 ms</th></tr>");
        for (PhaseFigures f : figs) {
            sb.append("<tr><th>").append(f.phase()).append("</th>");
            for (String k : OUTCOMES) {
                sb.append("<td>").append(f.outcomes().get(k)).append("</td>");
            }
            sb.append(String.format(Locale.ROOT, "<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.1f</td><td>%.3f</td><td>%.2f</td></tr>",
                    f.p50Ms(), f.p99Ms(), f.maxMs(), f.requestsPerSecond(), f.gigabytesPerSecond(), f.latenessP99Ms()));
        }
        sb.append("</table><h2>Invariants</h2><ul>");
        invariants.forEach((k, v) -> sb.append("<li>").append(k).append(": <b>").append(v).append("</b></li>"));
        sb.append("</ul>");
        sb.append(chart("Requests in flight", w, h, tMax, List.of(new Series("in flight", "#1f77b4", s -> s.inFlight()))));
        sb.append(chart("Outcomes per second", w, h, tMax, List.of(
                new Series("completed", "#2ca02c", d(SoakDriver.Sample::completed)),
                new Series("timed out", "#d62728", d(SoakDriver.Sample::timedOut)),
                new Series("cancelled", "#ff7f0e", d(SoakDriver.Sample::cancelled)),
                new Series("failed", "#9467bd", d(SoakDriver.Sample::failed)))));
        sb.append(chart("Buffer slots in use", w, h, tMax, List.of(new Series("context", "#8c564b", s -> s.ctxSlots()),
                new Series("generation", "#e377c2", s -> s.genSlots()))));
        sb.append(chart("Free KV blocks", w, h, tMax, List.of(new Series("context", "#17becf", s -> s.ctxFree()),
                new Series("generation", "#bcbd22", s -> s.genFree()))));
        sb.append("<h2>Events</h2><ul>");
        events.forEach(e -> sb.append("<li>").append(e).append("</li>"));
        sb.append("</ul></body></html>\n");
        return sb.toString();
    }

    private record Series(String name, String color, java.util.function.ToDoubleFunction<SoakDriver.Sample> value) {}

    private java.util.function.ToDoubleFunction<SoakDriver.Sample> d(java.util.function.ToLongFunction<SoakDriver.Sample> cumulative) {
        Map<SoakDriver.Sample, Double> per = new java.util.IdentityHashMap<>();
        long prev = 0;
        for (SoakDriver.Sample s : timeline) {
            long v = cumulative.applyAsLong(s);
            per.put(s, (double) (v - prev));
            prev = v;
        }
        return s -> per.getOrDefault(s, 0.0);
    }

    private String chart(String title, int w, int h, double tMax, List<Series> series) {
        double yMax = 1;
        for (Series se : series) {
            for (SoakDriver.Sample s : timeline) {
                yMax = Math.max(yMax, se.value().applyAsDouble(s));
            }
        }
        StringBuilder sb = new StringBuilder("<h2>").append(title).append("</h2><svg width=\"").append(w + 60).append("\" height=\"")
                .append(h + 30).append("\">");
        // phase bands
        for (Map.Entry<SoakDriver.Phase, long[]> e : windows.entrySet()) {
            double x0 = 50 + (e.getValue()[0] - t0) / 1e9 / tMax * w;
            double x1 = 50 + (e.getValue()[1] - t0) / 1e9 / tMax * w;
            sb.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"5\" width=\"%.1f\" height=\"%d\" fill=\"%s\" opacity=\"0.08\"/>"
                    + "<text x=\"%.1f\" y=\"16\" font-size=\"10\" fill=\"#555\">%s</text>", x0, Math.max(1, x1 - x0), h,
                    e.getKey().ordinal() % 2 == 0 ? "#1f77b4" : "#ff7f0e", x0 + 3, e.getKey()));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"14\" font-size=\"10\">%.0f</text><text x=\"4\" y=\"%d\" font-size=\"10\">0</text>"
                + "<text x=\"%d\" y=\"%d\" font-size=\"10\">%.0f s</text>", yMax, h + 5, w + 20, h + 25, tMax));
        int legendX = 60;
        for (Series se : series) {
            StringBuilder pts = new StringBuilder();
            for (SoakDriver.Sample s : timeline) {
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", 50 + s.t() / tMax * w, 5 + h - se.value().applyAsDouble(s) / yMax * h));
            }
            sb.append("<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"").append(se.color()).append("\" points=\"").append(pts)
                    .append("\"/>");
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>", legendX, h + 25, se.color(),
                    se.name()));
            legendX += 110;
        }
        return sb.append("</svg>").toString();
    }
}
