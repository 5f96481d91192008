package dev.kvx.cli.browser;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Loads one page in a new tab of a {@link HeadlessChromium}, waits until a script expression on the
 * page is truthy, takes a full-page PNG screenshot, and reports where its {@code <canvas>} elements are
 * and every console error, uncaught exception and browser error the page caused.
 */
public final class PageCapture {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CANVASES = "JSON.stringify([...document.querySelectorAll('canvas')].map(c => {"
            + " const r = c.getBoundingClientRect(); return {id: c.id, x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; }))";

    /**
     * Where a canvas is on the screenshot, in CSS pixels (the screenshot is taken at scale 1).
     *
     * @param id the element id
     * @param x left
     * @param y top
     * @param width width
     * @param height height
     */
    public record Box(String id, double x, double y, double width, double height) {}

    /**
     * What a page showed.
     *
     * @param png the full-page screenshot
     * @param ready what the ready expression returned
     * @param canvases where each canvas is
     * @param errors console errors, uncaught exceptions and browser errors, as text
     */
    public record Result(byte[] png, String ready, List<Box> canvases, List<String> errors) {}

    private PageCapture() {}

    /**
     * Loads the page and captures it.
     *
     * @param browser a running browser
     * @param page the address ({@code file:} or loopback {@code http:})
     * @param width the viewport width in CSS pixels
     * @param readyExpression JavaScript that is truthy once the page has drawn (its value as a string is returned)
     * @param timeout for the load and the ready wait each
     * @return the screenshot and what the page reported
     * @throws IOException when the page does not load or get ready in time
     */
    public static Result capture(HeadlessChromium browser, URI page, int width, String readyExpression, Duration timeout)
            throws IOException, InterruptedException {
        DevTools dt = browser.devTools();
        Duration call = Duration.ofSeconds(10);
        String target = dt.call("Target.createTarget", DevTools.params().put("url", "about:blank"), null, call).path("targetId").asText();
        String session = dt.call("Target.attachToTarget", DevTools.params().put("targetId", target).put("flatten", true), null, call)
                .path("sessionId").asText();
        try {
            dt.call("Runtime.enable", null, session, call);
            dt.call("Log.enable", null, session, call);
            dt.call("Page.enable", null, session, call);
            dt.call("Emulation.setDeviceMetricsOverride", DevTools.params().put("width", width).put("height", 1000)
                    .put("deviceScaleFactor", 1).put("mobile", false), session, call);
            JsonNode nav = dt.call("Page.navigate", DevTools.params().put("url", page.toString()), session, timeout);
            if (nav.hasNonNull("errorText")) {
                throw new IOException("cannot load " + page + ": " + nav.get("errorText").asText());
            }
            dt.await("Page.loadEventFired", session, timeout);
            String ready = awaitTruthy(dt, session, readyExpression, timeout);
            double height = evaluate(dt, session, "document.documentElement.scrollHeight").asDouble();
            List<Box> boxes = new ArrayList<>();
            for (JsonNode b : JSON.readTree(evaluate(dt, session, CANVASES).asText())) {
                boxes.add(new Box(b.path("id").asText(), b.path("x").asDouble(), b.path("y").asDouble(), b.path("width").asDouble(),
                        b.path("height").asDouble()));
            }
            var clip = DevTools.params().put("x", 0).put("y", 0).put("width", width).put("height", Math.min(16000, height)).put("scale", 1);
            var shot = DevTools.params().put("format", "png").put("captureBeyondViewport", true);
            shot.set("clip", clip);
            byte[] png = Base64.getDecoder().decode(dt.call("Page.captureScreenshot", shot, session, timeout).path("data").asText());
            return new Result(png, ready, List.copyOf(boxes), errors(dt, session));
        } finally {
            dt.call("Target.closeTarget", DevTools.params().put("targetId", target), null, call);
        }
    }

    private static String awaitTruthy(DevTools dt, String session, String expression, Duration timeout) throws IOException, InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode v = evaluate(dt, session, "(() => { const v = (" + expression + "); return v ? String(v) : ''; })()");
            if (!v.asText().isEmpty()) {
                return v.asText();
            }
            if (System.nanoTime() > end) {
                throw new IOException("the page did not get ready (" + expression + ") within " + timeout.toMillis() + " ms; errors: "
                        + errors(dt, session));
            }
            Thread.sleep(50);
        }
    }

    private static JsonNode evaluate(DevTools dt, String session, String expression) throws IOException, InterruptedException {
        JsonNode r = dt.call("Runtime.evaluate", DevTools.params().put("expression", expression).put("returnByValue", true), session,
                Duration.ofSeconds(10));
        if (r.has("exceptionDetails")) {
            throw new IOException("evaluating " + expression + " threw " + r.get("exceptionDetails"));
        }
        return r.path("result").path("value");
    }

    private static List<String> errors(DevTools dt, String session) {
        List<String> out = new ArrayList<>();
        for (JsonNode e : dt.events()) {
            if (!session.equals(e.path("sessionId").asText())) {
                continue;
            }
            JsonNode p = e.path("params");
            switch (e.path("method").asText()) {
                case "Runtime.exceptionThrown" -> out.add("exception: " + p.path("exceptionDetails").path("exception").path("description")
                        .asText(p.path("exceptionDetails").path("text").asText()));
                case "Runtime.consoleAPICalled" -> {
                    String type = p.path("type").asText();
                    if (type.equals("error") || type.equals("assert")) {
                        StringBuilder sb = new StringBuilder("console." + type + ":");
                        p.path("args").forEach(a -> sb.append(' ').append(a.path("value").asText(a.path("description").asText())));
                        out.add(sb.toString());
                    }
                }
                case "Log.entryAdded" -> {
                    if (p.path("entry").path("level").asText().equals("error")) {
                        out.add("log: " + p.path("entry").path("text").asText() + " " + p.path("entry").path("url").asText());
                    }
                }
                default -> { }
            }
        }
        return out;
    }
}
