package dev.kvx.transceiver.internal.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.TransferMode;
import dev.kvx.transceiver.TransferOutcome.Status;
import dev.kvx.transceiver.TransferPhase;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class EngineHarnessSmokeTest {
    @ParameterizedTest
    @EnumSource(TransferMode.class)
    void happyPath(TransferMode mode) {
        var cfg = EngineHarness.config(mode, Duration.ofSeconds(1), Duration.ofSeconds(2), 1);
        try (EngineHarness h = new EngineHarness(cfg, cfg, 16, 0)) {
            var c = h.ctx.submit(1, 3);
            var g = h.gen.submit(1, 3);
            h.pump();
            assertEquals(TransferPhase.DATA_IN_FLIGHT, (mode == TransferMode.PUSH ? c : g).phase());
            h.landInFlight();
            h.pump();
            assertEquals(Status.COMPLETED, c.outcome().status());
            assertEquals(Status.COMPLETED, g.outcome().status());
            assertTrue(g.holdsContextData());
            h.closeAllHandles();
            h.assertAllFree();
            h.assertNoErrors();
        }
    }
}
