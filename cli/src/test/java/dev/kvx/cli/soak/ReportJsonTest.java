package dev.kvx.cli.soak;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report.json is written by Jackson and reads back whole, whatever the strings in it hold. */
class ReportJsonTest {
    @Test
    void roundTripsThroughJacksonWithQuotesNewlinesAndMarkup(@TempDir Path dir) throws Exception {
        ReportDocument doc = ReportSamples.sample().withScreenshot("not taken: \"quoted\"\nreason");
        Path file = dir.resolve("report.json");
        ReportJson.write(doc, file);
        JsonNode tree = new ObjectMapper().readTree(file.toFile()); // any JSON reader accepts it
        assertEquals(ReportSamples.HOSTILE, tree.get("events").get(2).get("text").asText());
        assertEquals(ReportSamples.HOSTILE, tree.get("parameters").get("note").asText());
        ReportDocument back = ReportJson.read(file);
        assertEquals(doc.events(), back.events());
        assertEquals(doc.phases(), back.phases());
        assertEquals(doc.timeline(), back.timeline());
        assertEquals(doc.screenshot(), back.screenshot());
        assertEquals(ReportJson.toJson(doc), ReportJson.toJson(back), "written again, the same text");
    }

    @Test
    void theScriptFormCannotCloseItsScriptElementAndParsesToTheSameDocument() throws Exception {
        ReportDocument doc = ReportSamples.sample();
        String js = ReportJson.forScript(doc);
        assertFalse(js.contains("<") || js.contains(">") || js.contains("&") || js.contains("\u2028"), js);
        assertTrue(js.contains("\\u003C/script\\u003E") || js.contains("\\u003c/script\\u003e"), js);
        assertEquals(ReportJson.toJson(doc), ReportJson.toJson(ReportJson.fromJson(js)));
    }
}
