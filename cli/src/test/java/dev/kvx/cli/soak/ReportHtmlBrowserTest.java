package dev.kvx.cli.soak;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvx.cli.browser.ChartPixels;
import dev.kvx.cli.browser.HeadlessChromium;
import dev.kvx.cli.browser.PageCapture;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * report.html in a real headless Chromium (Debian's chromium, over the DevTools protocol): the charts
 * draw, no console errors, hostile text stays text. The screenshot is kept in
 * {@code cli/target/report-browser-test/report.png}. CI ({@code KVX_REQUIRE_BROWSER=1}, set by
 * ci/test.sh after ci/provision-chromium.sh) fails instead of skipping when no browser is here.
 */
class ReportHtmlBrowserTest {
    static Path browser() {
        Optional<Path> b = HeadlessChromium.find();
        if (b.isEmpty() && System.getenv("KVX_REQUIRE_BROWSER") != null) {
            fail("KVX_REQUIRE_BROWSER is set but no browser was found: " + HeadlessChromium.INSTALL_HINT);
        }
        Assumptions.assumeTrue(b.isPresent(), "no headless browser: " + HeadlessChromium.INSTALL_HINT);
        return b.get();
    }

    @Test
    void theReportRendersEveryChartWithoutConsoleErrors() throws Exception {
        Path chromium = browser();
        Path dir = Files.createDirectories(Path.of("target", "report-browser-test"));
        Path html = dir.resolve("report.html");
        Files.writeString(html, ReportHtml.render(ReportSamples.sample()));
        String ready = ReportHtml.READY + " && JSON.stringify({charts: window.kvxReport.charts, scripts: document.scripts.length,"
                + " shown: document.body.innerText.includes('<script>alert(1)</script>'), injected: document.querySelectorAll('b').length})";
        PageCapture.Result r;
        try (HeadlessChromium b = HeadlessChromium.launch(chromium, Duration.ofSeconds(30))) {
            r = PageCapture.capture(b, html.toAbsolutePath().toUri(), 1280, ready, Duration.ofSeconds(30));
        }
        Files.write(dir.resolve("report.png"), r.png());
        assertEquals(java.util.List.of(), r.errors(), "no console errors or exceptions");
        JsonNode state = new ObjectMapper().readTree(r.ready());
        assertEquals(6, state.get("charts").asInt(), r.ready());
        assertEquals(3, state.get("scripts").asInt(), "the event text did not add a script: " + r.ready());
        assertTrue(state.get("shown").asBoolean(), "the hostile event text is shown as text: " + r.ready());
        assertEquals(3, state.get("injected").asInt(), "only the invariants' <b> elements, none from the event text: " + r.ready());

        BufferedImage image = ImageIO.read(new ByteArrayInputStream(r.png()));
        Map<String, PageCapture.Box> boxes = r.canvases().stream().collect(Collectors.toMap(PageCapture.Box::id, Function.identity()));
        assertEquals(6, boxes.size(), r.canvases().toString());
        for (PageCapture.Box box : boxes.values()) {
            assertTrue(box.width() > 100 && box.height() > 100, "laid out: " + box);
            double ink = ChartPixels.inkFraction(image, box);
            assertTrue(ink > 0.01, box.id() + " is blank (" + ink + " of its pixels drawn)");
        }
        // the data itself was drawn, in its series' colours
        assertTrue(ChartPixels.near(image, boxes.get("chart-outcomes"), 0x2ca02c, 20) > 200, "completed bars");
        assertTrue(ChartPixels.near(image, boxes.get("chart-latency"), 0xd62728, 20) > 50, "p99 line");
        assertTrue(ChartPixels.near(image, boxes.get("chart-faults"), 0xe377c2, 20) > 20, "no-ack fault bars");
        assertTrue(ChartPixels.near(image, boxes.get("chart-phases"), 0x2ca02c, 20) > 200, "completed by phase");
        // the kill marker (red) and the restart marker (green) on a timeline with no other red or green
        assertTrue(ChartPixels.near(image, boxes.get("chart-inflight"), 0xd62728, 20) > 50, "kill marker");
        assertTrue(ChartPixels.near(image, boxes.get("chart-inflight"), 0x2ca02c, 20) > 50, "restart marker");
    }

    @Test
    void aRunAcrossHostsShowsItsHostsPeersLanesAndFaultsAsText() throws Exception {
        Path chromium = browser();
        Path dir = Files.createDirectories(Path.of("target", "report-browser-test"));
        Path html = dir.resolve("report-hosts.html");
        Files.writeString(html, ReportHtml.render(ReportSamples.sampleWithHosts()));
        String ready = ReportHtml.READY + " && JSON.stringify({charts: window.kvxReport.charts, scripts: document.scripts.length,"
                + " text: document.body.innerText, injected: document.querySelectorAll('b').length})";
        PageCapture.Result r;
        try (HeadlessChromium b = HeadlessChromium.launch(chromium, Duration.ofSeconds(30))) {
            r = PageCapture.capture(b, html.toAbsolutePath().toUri(), 1280, ready, Duration.ofSeconds(30));
        }
        Files.write(dir.resolve("report-hosts.png"), r.png());
        assertEquals(java.util.List.of(), r.errors(), "no console errors or exceptions");
        JsonNode state = new ObjectMapper().readTree(r.ready());
        String text = state.get("text").asText();
        assertEquals(6, state.get("charts").asInt(), r.ready());
        assertEquals(3, state.get("scripts").asInt(), "no script from the hosts' text");
        assertEquals(3, state.get("injected").asInt(), "no element from the hosts' text");
        for (String expected : new String[] {"10.231.0.2", "kvx1.1-h1", "prefill-0, prefill-1", "zero-copy tcp/eth0", "cut-link",
            "h1 [decode-0]", "{COMPLETED=4, TIMED_OUT=8}", "unsupported on this kernel: worker \"gen-2\""}) {
            assertTrue(text.contains(expected), "the page shows '" + expected + "'");
        }
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(r.png()));
        PageCapture.Box inflight = r.canvases().stream().filter(c -> c.id().equals("chart-inflight")).findFirst().orElseThrow();
        assertTrue(ChartPixels.near(image, inflight, 0xff7f0e, 20) > 50, "the fault marker (orange)");
        assertTrue(ChartPixels.near(image, inflight, 0x17becf, 20) > 50, "the heal marker (teal)");
    }
}
