package dev.kvx.cli.soak;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.mustachejava.DefaultMustacheFactory;
import com.github.mustachejava.Mustache;
import dev.kvx.cli.VersionProvider;
import dev.kvx.cli.browser.HeadlessChromium;
import dev.kvx.cli.browser.PageCapture;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code report.html}: a Mustache template ({@code report.html.mustache}, every value HTML-escaped)
 * with Chart.js inlined from its WebJar and the report document embedded as script-safe JSON, so the
 * page works offline. Charts: requests in flight, outcomes per second, latency p50/p99 per second,
 * injected faults per second, outcomes by phase, staging slots and free blocks; phase, kill and
 * restart markers on every timeline. {@link #screenshot} renders it in a headless browser.
 */
final class ReportHtml {
    /** Truthy once the page has drawn its charts: {@code window.kvxReport.charts}. */
    static final String READY = "window.kvxReport && window.kvxReport.charts";
    /** Once ready: the number of charts and the ids of canvases with no pixel drawn, as JSON. */
    private static final String DRAWN = READY + " && JSON.stringify({charts: window.kvxReport.charts, blank: [...document.querySelectorAll('canvas')]"
            + ".filter(c => !c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v !== 0))"
            + ".map(c => c.id)})";
    private static final Mustache TEMPLATE = new DefaultMustacheFactory("dev/kvx/cli/soak").compile("report.html.mustache");

    private ReportHtml() {}

    /** The page for a report. */
    static String render(ReportDocument doc) throws IOException {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("ok", doc.ok());
        view.put("summary", summary(doc));
        List<String> outcomes = doc.phases().isEmpty() ? List.of() : List.copyOf(doc.phases().get(0).outcomes().keySet());
        view.put("outcomeNames", outcomes.stream().map(k -> k.toLowerCase(Locale.ROOT).replace('_', ' ')).toList());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (ReportDocument.PhaseFigures f : doc.phases()) {
            List<String> cells = new ArrayList<>();
            outcomes.forEach(k -> cells.add(String.valueOf(f.outcomes().get(k))));
            cells.add(fmt(f.latencyMs().p50()));
            cells.add(fmt(f.latencyMs().p99()));
            cells.add(fmt(f.latencyMs().max()));
            cells.add(String.format(Locale.ROOT, "%.1f", f.requestsPerSecond()));
            cells.add(String.format(Locale.ROOT, "%.3f", f.gigabytesPerSecond()));
            cells.add(fmt(f.deadlineLatenessMs().p99()));
            rows.add(Map.of("phase", f.phase(), "cells", cells));
        }
        view.put("phases", rows);
        view.put("invariants", doc.invariants().entrySet().stream().map(e -> Map.of("name", e.getKey(), "value", String.valueOf(e.getValue())))
                .toList());
        view.put("events", doc.events().stream().map(e -> Map.of("t", String.format(Locale.ROOT, "%.1f", e.t()), "kind", e.kind(),
                "text", e.text())).toList());
        view.put("hosts", doc.hosts() == null ? null : hostsView(doc.hosts()));
        view.put("hostile", HostileReport.view(doc.hostilePeer()));
        view.put("dataJson", ReportJson.forScript(doc));
        view.put("chartJs", chartJs());
        view.put("chartJsVersion", VersionProvider.buildInfo().getProperty("chartjs"));
        view.put("reportJs", resource("dev/kvx/cli/soak/report.js"));
        StringWriter w = new StringWriter();
        TEMPLATE.execute(w, view);
        return w.toString();
    }

    /** The hosts part of the page: hosts, peers, UCX lanes, pairs and cross-host faults, as plain strings (escaped by Mustache). */
    private static Map<String, Object> hostsView(ReportDocument.Hosts h) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("etcd", h.etcd());
        v.put("etcdNamespace", h.etcdNamespace());
        v.put("ucx", h.ucx());
        v.put("hostRows", h.hosts().stream().map(x -> Map.of("name", x.name(), "address", x.address(), "namespace", x.namespace(),
                "runs", x.runs())).toList());
        v.put("peerRows", h.peers().stream().map(p -> Map.of("name", p.name(), "role", p.role(), "host", p.host(), "address", p.address(),
                "starts", String.valueOf(p.starts()), "sessions", String.join(", ", p.sessions()))).toList());
        List<Map<String, String>> lanes = new ArrayList<>();
        h.ucxLanes().forEach((w, l) -> lanes.add(Map.of("worker", w, "text", l.isEmpty() ? "(none logged)" : String.join("; ", l))));
        v.put("laneRows", lanes);
        v.put("pairRows", h.pairs().stream().map(p -> Map.of("prefill", p.prefill(), "decode", p.decode(), "requests",
                String.valueOf(p.requests()), "completed", String.valueOf(p.completed()),
                "gigabytes", String.format(Locale.ROOT, "%.3f", p.gigabytes()))).toList());
        v.put("faultRows", h.faults().stream().map(f -> {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("kind", f.kind());
            m.put("target", f.target());
            m.put("start", f.start() < 0 ? "-" : String.format(Locale.ROOT, "%.1f", f.start()));
            m.put("end", f.end() < 0 ? "-" : String.format(Locale.ROOT, "%.1f", f.end()));
            m.put("status", f.status());
            m.put("touched", String.valueOf(f.touched()));
            m.put("outcomes", String.valueOf(f.touchedOutcomes()));
            m.put("lastEnded", String.format(Locale.ROOT, "%.0f", f.lastEndedMsAfterStart()));
            m.put("slowest", String.format(Locale.ROOT, "%.0f", f.slowestTouchedMs()));
            m.put("recovered", f.recoveredMsAfterEnd() < 0 ? "none" : String.format(Locale.ROOT, "%.0f", f.recoveredMsAfterEnd()));
            m.put("others", f.othersCompleted() < 0 ? "(every pair touched)" : String.valueOf(f.othersCompleted()));
            return m;
        }).toList());
        return v;
    }

    private static String summary(ReportDocument doc) {
        Map<String, Object> p = doc.parameters();
        return String.format(Locale.ROOT, "%s requests; KV block %s B; pool %s blocks per worker; %s staging slots per worker; "
                + "kvTransferTimeout %s ms; faults %s", doc.invariants().get("requests"), p.get("blockBytes"), p.get("poolBlocks"),
                p.get("buffers"), p.get("timeoutMs"), p.get("faults"));
    }

    private static String fmt(double ms) {
        return String.format(Locale.ROOT, "%.2f", ms);
    }

    /** Chart.js's UMD build from its WebJar, without the source-map comment (the map is not shipped in the page). */
    private static String chartJs() {
        String js = resource("META-INF/resources/webjars/chart.js/" + VersionProvider.buildInfo().getProperty("chartjs") + "/dist/chart.umd.js");
        return js.replaceAll("//# sourceMappingURL=\\S+", "").replace("</script", "<\\/script");
    }

    private static String resource(String name) {
        try (InputStream in = ReportHtml.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " (a broken kvx-cli build?)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Renders the page in a headless Chromium and writes its screenshot; checks that every chart drew.
     *
     * @return what happened, for the terminal and {@code report.json}
     */
    static String screenshot(Path html, Path png) {
        Optional<Path> browser = HeadlessChromium.find();
        if (browser.isEmpty()) {
            return "not taken: no headless browser here; " + HeadlessChromium.INSTALL_HINT;
        }
        try (HeadlessChromium b = HeadlessChromium.launch(browser.get(), Duration.ofSeconds(30))) {
            PageCapture.Result r = PageCapture.capture(b, html.toAbsolutePath().toUri(), 1280, DRAWN, Duration.ofSeconds(30));
            Files.write(png, r.png());
            JsonNode drawn = new ObjectMapper().readTree(r.ready());
            return String.format(Locale.ROOT, "%s: %d chart(s) drawn by %s, %d blank%s; %s", png.getFileName(), drawn.path("charts").asInt(),
                    browser.get().getFileName(), drawn.path("blank").size(), drawn.path("blank").isEmpty() ? "" : " " + drawn.path("blank"),
                    r.errors().isEmpty() ? "no console errors" : "console errors: " + r.errors());
        } catch (IOException | RuntimeException e) {
            return "not taken: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "not taken: interrupted";
        }
    }
}
