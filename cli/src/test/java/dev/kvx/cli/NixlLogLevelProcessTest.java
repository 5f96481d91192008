package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** -Dkvx.nixl.logLevel=logger: the real NIXL logs at the level the application's logging gives dev.kvx.nixl.native. */
class NixlLogLevelProcessTest {
    private static String nixlStderr(Path dir, String julLevel) throws Exception {
        Path config = dir.resolve("logging-" + julLevel + ".properties");
        Files.writeString(config, "handlers=java.util.logging.ConsoleHandler\n.level=WARNING\ndev.kvx.nixl.native.level=" + julLevel + "\n");
        Map<String, String> env = new HashMap<>();
        env.put("NIXL_LOG_LEVEL", null);
        ChildJvm.Result r = ChildJvm.run(dir, env, List.of("--enable-native-access=ALL-UNNAMED",
                "-Dkvx.native.dir=" + System.getProperty("kvx.native.dir"), "-Djava.util.logging.config.file=" + config,
                "-Dkvx.nixl.logLevel=logger"), Main.class.getName(), "demo", "--size=4KiB", "--iterations=1");
        assertEquals(0, r.status(), r.out() + r.err());
        return r.err();
    }

    @Test
    void nixlFollowsTheJavaLoggersLevel(@TempDir Path dir) throws Exception {
        String fine = nixlStderr(dir, "FINE");
        assertTrue(fine.contains("NIXL version"), "DEBUG for dev.kvx.nixl.native makes NIXL log its INFO/DEBUG lines: " + fine);
        assertFalse(fine.contains("Invalid NIXL_LOG_LEVEL"), fine);
        String warning = nixlStderr(dir, "WARNING");
        assertFalse(warning.contains("NIXL version"), "WARNING keeps NIXL at WARN: " + warning);
    }
}
