package dev.kvx.transceiver;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each finished transfer leaves one {@code dev.kvx.Transfer} JFR event per side with its figures. */
class TransferEventTest {
    @Test
    void aRealTransferAndATimeoutAreRecordedWithSizePhasesAndOutcome(@TempDir Path dir) throws Exception {
        List<RecordedEvent> events;
        try (Recording rec = new Recording()) {
            rec.enable("dev.kvx.Transfer");
            rec.start();
            try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(Duration.ofMillis(300)))) {
                LlmRequest c = p.filledContextRequest(501, 3, new Random(5));
                LlmRequest g = p.gen.createRequest(501, 3);
                var sent = p.ctx.send(c, p.gen.name()).toCompletableFuture();
                assertEquals(TransferOutcome.Status.COMPLETED, p.gen.receive(g, p.ctx.name()).toCompletableFuture()
                        .get(10, TimeUnit.SECONDS).status());
                assertEquals(TransferOutcome.Status.COMPLETED, sent.get(10, TimeUnit.SECONDS).status());
                LlmRequest lonely = p.gen.createRequest(502, 1);
                assertEquals(TransferOutcome.Status.TIMED_OUT, p.gen.receive(lonely, p.ctx.name()).toCompletableFuture()
                        .get(10, TimeUnit.SECONDS).status());
                for (LlmRequest r : List.of(c, g, lonely)) {
                    r.close();
                }
            }
            rec.stop();
            Path file = dir.resolve("kvx.jfr");
            rec.dump(file);
            events = RecordingFile.readAllEvents(file).stream().filter(e -> e.getEventType().getName().equals("dev.kvx.Transfer"))
                    .toList();
            assertTrue(Files.size(file) > 0);
        }
        Map<String, RecordedEvent> byKey = events.stream()
                .collect(Collectors.toMap(e -> e.getLong("requestId") + "/" + e.getString("side"), e -> e));
        assertEquals(3, events.size(), byKey.keySet().toString());
        long bytes = 3 * TransceiverPair.LAYOUT.blockBytes();
        for (String side : List.of("context", "generation")) {
            RecordedEvent e = byKey.get("501/" + side);
            assertNotNull(e, side + " event of request 501: " + byKey.keySet());
            assertEquals("COMPLETED", e.getString("outcome"));
            assertEquals("DONE", e.getString("phase"));
            assertEquals(bytes, e.getLong("bytes"));
            long latency = e.getLong("latency");
            long phases = e.getLong("queued") + e.getLong("waitingForRequestInfo") + e.getLong("waitingForBuffer")
                    + e.getLong("dataInFlight") + e.getLong("waitingForData");
            assertTrue(latency > 0 && phases > 0, e.toString());
            // the phase times partition the request's life exactly (one clock reading ends both)
            assertEquals(latency, phases, e.toString());
        }
        assertTrue(byKey.get("501/context").getLong("dataInFlight") > 0, "the WRITE took some time");
        assertTrue(byKey.get("501/generation").getLong("waitingForData") > 0);
        RecordedEvent timedOut = byKey.get("502/generation");
        assertEquals("TIMED_OUT", timedOut.getString("outcome"));
        assertEquals("WAITING_FOR_DATA", timedOut.getString("phase"), "the phase it was in when its deadline passed");
        assertEquals(1, timedOut.getInt("quarantinedBlocks"), "its block may be written to: quarantined, and the event says so");
    }
}
