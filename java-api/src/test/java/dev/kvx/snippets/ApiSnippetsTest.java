package dev.kvx.snippets;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.nixl.Notification;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The javadoc's examples run against the real NIXL library. */
class ApiSnippetsTest {
    @Test
    void transferExampleMovesBytesAndNotifies() throws Exception {
        List<Notification> n = ApiSnippets.transfer(4096);
        assertEquals(1, n.size());
        assertTrue(n.get(0).matches("done".getBytes()));
    }

    @Test
    void memoryPoolAndCudaExamplesRun() {
        assertNotEquals(0, ApiSnippets.hostBuffer());
        assertEquals(64, ApiSnippets.pool());
        assertFalse(ApiSnippets.devices().isEmpty());
    }
}
