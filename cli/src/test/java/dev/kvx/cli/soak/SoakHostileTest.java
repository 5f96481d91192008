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
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kvx soak --hostile-peer}: a real soak (two worker JVMs over real NIXL, faults on) with a third
 * process that attacks both workers during the burst without the secret. Everything it sends is refused
 * by the workers' own counters, it gets nothing, and no request ends other than the fault plan predicts.
 */
class SoakHostileTest {
    @Test
    void aHostilePeerWithoutTheSecretIsRefusedEverywhereAndAffectsNoRequest(@TempDir Path dir) throws Exception {
        String[] args = {"soak", "--hostile-peer", "--warmup", "1", "--burst", "8", "--idle", "2", "--probes", "3", "--concurrency", "8",
            "--timeout-ms", "1500", "--faults", "silent-gen=0.05,exception=0.05", "--seed", "11",
            "--report", dir.toString()};
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int status = Main.run(args, out, out);
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println(text);
        assertEquals(0, status, text);
        assertTrue(text.contains("security: per-run secret") && text.contains("HMAC-SHA256"), "the run says how it is protected");
        JsonNode report = new ObjectMapper().readTree(dir.resolve("report.json").toFile());
        assertTrue(report.get("ok").asBoolean(), text);
        assertTrue(report.get("parameters").get("security").asText().contains("per-run secret"));
        JsonNode h = report.get("hostilePeer");
        assertNotNull(h, "report.json has the hostile-peer section");
        assertTrue(h.get("ok").asBoolean(), h.toString());
        assertFalse(h.get("secretGiven").asBoolean(), "the hostile process had no secret in its environment");
        assertEquals(0, h.get("requestsAffected").asLong(), h.get("affected").toString());
        assertTrue(h.get("requestsInAttackWindow").asLong() > 0, h.toString());
        // every attack was made, and what the workers refused adds up for each kind that was sent
        for (JsonNode group : h.get("groups")) {
            for (JsonNode attack : group.get("attacks")) {
                assertTrue(attack.get("sent").asLong() > 0, "not sent: " + attack);
            }
            if (!group.get("refusedAs").isEmpty()) {
                assertTrue(group.get("refused").asLong() > 0, "sent but never refused: " + group);
            }
        }
        // each worker refused, by its own metrics, every kind of message that reached it
        JsonNode by = h.get("refusedBy");
        assertEquals(2, by.size(), by.toString());
        for (JsonNode w : by) {
            for (String counter : List.of("refusedUnknownSession", "refusedAuth", "refusedOversize", "refusedControl")) {
                assertTrue(w.get(counter).asLong() > 0, counter + ": " + by);
            }
            assertTrue(w.get("refusedReplay").asLong() + w.get("refusedHandshakes").asLong() > 0, "replays: " + by);
            assertTrue(w.get("foreignMessages").asLong() + w.get("malformedMessages").asLong() > 0, "garbage: " + by);
        }
        assertTrue(h.get("accepted").has("messagesNotRefused"), "no worker was killed: every message sent must be refused once");
        h.get("accepted").fields().forEachRemaining(e -> assertEquals(0, e.getValue().asLong(), "accepted: " + h.get("accepted")));
        h.get("damage").fields().forEachRemaining(e -> assertEquals(0, e.getValue().asLong(), "damage: " + h.get("damage")));
        assertTrue(h.get("sentFields").get("fetchAsked").asLong() > 0, "NIXL's metadata fetch was tried: " + h.get("sentFields"));
        // the workers listen where the report says (kvx's control channel on loopback)
        assertTrue(h.get("listening").toString().contains("127.0.0.1:") && h.get("listening").toString().contains("(kvx control channel)"),
                h.get("listening").toString());
        String html = Files.readString(dir.resolve("report.html"));
        assertTrue(html.contains("id=\"hostile-peer\"") && html.contains("refusedUnknownSession"), "report.html shows the section");
        ReportDocument typed = ReportJson.read(dir.resolve("report.json"));
        assertEquals(Boolean.TRUE, typed.hostilePeer().get("ok"), "report.json reads back");
        if (dev.kvx.cli.browser.HeadlessChromium.find().isPresent()) { // the page with the section renders cleanly
            assertTrue(typed.screenshot().contains("0 blank; no console errors"), typed.screenshot());
        }
        assertTrue(text.contains("requests affected: 0 of "), text);
    }

    private static SoakRequest.Out out(String status, String why) {
        return new SoakRequest.Out(status, "DATA_IN_FLIGHT", 1_000_000, 0, why);
    }

    private static SoakRequest req(long id, SoakRequest.Out ctx, SoakRequest.Out gen) {
        SoakRequest r = new SoakRequest(id, 2, SoakPhase.BURST, "soak-ctx", "soak-gen-1");
        r.ctx = ctx;
        r.gen = gen;
        return r;
    }

    @Test
    void aRequestIsAffectedWhenItsOutcomeIsNotWhatTheFaultPlanPredicts() {
        SoakFaults plan = new SoakFaults(Map.of("silent-gen", 0.5), 3, true, Duration.ZERO);
        SoakFaults none = new SoakFaults(Map.of(), 3, true, Duration.ZERO);
        long clean = LongStream.range(1, 1000).filter(plan::untouched).findFirst().orElseThrow();
        long hit = LongStream.range(1, 1000).filter(id -> !plan.untouched(id)).findFirst().orElseThrow();
        SoakRequest.Out done = out("COMPLETED", "");
        SoakRequest.Out late = out("TIMED_OUT", "");
        assertNull(HostileReport.affected(req(clean, done, done), plan));
        assertNull(HostileReport.affected(req(hit, late, late), plan), "a fault of the plan explains it");
        assertNotNull(HostileReport.affected(req(clean, late, late), plan), "nothing planned ends a request untouched by faults");
        assertNotNull(HostileReport.affected(req(clean, out("CANCELLED", ""), out("CANCELLED", "")), plan));
        assertNotNull(HostileReport.affected(req(hit, done, out("CORRUPT", "")), plan), "corrupt data is never planned");
        assertNotNull(HostileReport.affected(req(hit, late, done), plan), "completed on one side only");
        assertEquals("NONE", HostileReport.affected(req(hit, done, null), plan));
        assertNull(HostileReport.affected(req(clean, late, out("KILLED", "")), plan), "the soak's own kill");
        SoakRequest.Out cancelled = out("CANCELLED", "");
        assertNull(HostileReport.affected(req(clean, out("REJECTED", "pool"), cancelled), plan), "admission: the pool was full");
        assertNull(HostileReport.affected(req(clean, cancelled, out("REJECTED", "unhealthy")), plan), "a faulted request's owed proof");
        assertNotNull(HostileReport.affected(req(clean, cancelled, out("REJECTED", "unhealthy")), none), "no fault can make a peer owe a proof");
        assertNotNull(HostileReport.affected(req(clean, out("REJECTED", "notConnected"), cancelled), plan), "a lost session is damage");
    }
}
