package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The switch that routes NIXL's own log level (README, "Logging"), against the real NIXL in a child JVM:
 * {@code -Dkvx.nixl.logLevel=logger} makes NIXL log at the level the application's logging gives
 * {@code dev.kvx.nixl.native}; an explicit level wins over the process's {@code NIXL_LOG_LEVEL}; a bad value
 * fails with the accepted ones.
 */
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

    private static ChildJvm.Result demo(Path dir, String envLevel, String setting) throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("NIXL_LOG_LEVEL", envLevel);
        return ChildJvm.run(dir, env, List.of("--enable-native-access=ALL-UNNAMED",
                "-Dkvx.native.dir=" + System.getProperty("kvx.native.dir"), "-Dkvx.nixl.logLevel=" + setting),
                Main.class.getName(), "demo", "--size=4KiB", "--iterations=1");
    }

    @Test
    void anExplicitLevelWinsOverTheProcessEnvironment(@TempDir Path dir) throws Exception {
        ChildJvm.Result quiet = demo(dir, "DEBUG", "ERROR");
        assertEquals(0, quiet.status(), quiet.out() + quiet.err());
        assertFalse(quiet.err().contains("NIXL version"), "ERROR over NIXL_LOG_LEVEL=DEBUG: " + quiet.err());
        ChildJvm.Result chatty = demo(dir, "ERROR", "info");
        assertEquals(0, chatty.status(), chatty.out() + chatty.err());
        assertTrue(chatty.err().contains("NIXL version"), "INFO over NIXL_LOG_LEVEL=ERROR: " + chatty.err());
    }

    @Test
    void aBadLevelFailsWithTheAcceptedOnes(@TempDir Path dir) throws Exception {
        ChildJvm.Result bad = demo(dir, null, "LOUD");
        assertEquals(1, bad.status(), bad.out() + bad.err());
        assertTrue(bad.err().contains("kvx.nixl.logLevel='LOUD' is not a NIXL log level; use one of [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]"
                + " or 'logger'"), bad.err());
    }
}
