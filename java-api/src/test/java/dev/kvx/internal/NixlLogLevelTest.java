package dev.kvx.internal;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Optional;
import java.util.ResourceBundle;
import org.junit.jupiter.api.Test;

/** kvx.nixl.logLevel: a NIXL level, or 'logger' to follow the application's logging for dev.kvx.nixl.native. */
class NixlLogLevelTest {
    /** A System.Logger at a fixed threshold, standing in for an SLF4J/Log4j configuration. */
    private record At(System.Logger.Level threshold) implements System.Logger {
        @Override
        public String getName() {
            return NixlLogLevel.LOGGER;
        }

        @Override
        public boolean isLoggable(Level level) {
            return level.getSeverity() >= threshold.getSeverity();
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {}

        @Override
        public void log(Level level, ResourceBundle bundle, String format, Object... params) {}
    }

    @Test
    void explicitLevelsPassThroughAndUnsetLeavesTheEnvironmentAlone() {
        assertEquals(Optional.of("WARN"), NixlLogLevel.resolve("warn", new At(System.Logger.Level.INFO)));
        assertEquals(Optional.of("WARN"), NixlLogLevel.resolve("WARNING", new At(System.Logger.Level.INFO)));
        assertEquals(Optional.of("TRACE"), NixlLogLevel.resolve("TRACE", new At(System.Logger.Level.ERROR)));
        assertEquals(Optional.empty(), NixlLogLevel.resolve(null, new At(System.Logger.Level.INFO)));
        assertEquals(Optional.empty(), NixlLogLevel.resolve(" ", new At(System.Logger.Level.INFO)));
    }

    @Test
    void loggerFollowsTheApplicationsLoggingLevel() {
        assertEquals(Optional.of("DEBUG"), NixlLogLevel.resolve("logger", new At(System.Logger.Level.DEBUG)));
        assertEquals(Optional.of("INFO"), NixlLogLevel.resolve("logger", new At(System.Logger.Level.INFO)));
        assertEquals(Optional.of("WARN"), NixlLogLevel.resolve("logger", new At(System.Logger.Level.WARNING)));
        assertEquals(Optional.of("ERROR"), NixlLogLevel.resolve("logger", new At(System.Logger.Level.ERROR)));
        assertEquals(Optional.of("FATAL"), NixlLogLevel.resolve("logger", new At(System.Logger.Level.OFF)));
    }

    @Test
    void aBadValueSaysWhatIsAccepted() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NixlLogLevel.resolve("chatty", new At(System.Logger.Level.INFO)));
        assertTrue(e.getMessage().contains("'chatty'") && e.getMessage().contains("[TRACE, DEBUG, INFO, WARN, ERROR, FATAL]")
                && e.getMessage().contains("'logger'"), e.getMessage());
    }
}
