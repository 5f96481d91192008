package dev.kvx.internal;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * NIXL's own log level. NIXL logs through abseil straight to stderr and reads {@code NIXL_LOG_LEVEL}
 * once, when {@code libnixl.so} loads; kvx cannot route its lines into Java logging, but it can set that
 * level from Java before the load:
 * <ul>
 *   <li>{@code -Dkvx.nixl.logLevel=WARN} (or {@code TRACE}, {@code DEBUG}, {@code INFO}, {@code ERROR},
 *       {@code FATAL}): that level;</li>
 *   <li>{@code -Dkvx.nixl.logLevel=logger}: the level the application's logging gives the
 *       {@value #LOGGER} {@link System.Logger} (so an SLF4J or Log4j configuration decides for NIXL too);</li>
 *   <li>not set: whatever {@code NIXL_LOG_LEVEL} the process has (NIXL's default is WARN).</li>
 * </ul>
 */
public final class NixlLogLevel {
    /** The logger whose level {@code -Dkvx.nixl.logLevel=logger} follows. */
    public static final String LOGGER = "dev.kvx.nixl.native";
    /** The levels NIXL reads from {@code NIXL_LOG_LEVEL}. */
    public static final List<String> NIXL_LEVELS = List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL");
    private static final System.Logger.Level[] JAVA_LEVELS = {System.Logger.Level.TRACE, System.Logger.Level.DEBUG,
        System.Logger.Level.INFO, System.Logger.Level.WARNING, System.Logger.Level.ERROR};

    private NixlLogLevel() {}

    /**
     * The level to give NIXL for a setting, or empty to leave {@code NIXL_LOG_LEVEL} alone.
     *
     * @param setting the value of {@code kvx.nixl.logLevel} (may be null)
     * @param logger the logger {@code logger} follows
     * @return a NIXL level name, or empty
     * @throws IllegalArgumentException for a value that is neither a NIXL level nor {@code logger}
     */
    public static Optional<String> resolve(String setting, System.Logger logger) {
        if (setting == null || setting.isBlank()) {
            return Optional.empty();
        }
        String s = setting.trim().toUpperCase(Locale.ROOT);
        if (s.equals("LOGGER")) {
            for (int i = 0; i < JAVA_LEVELS.length; i++) {
                if (logger.isLoggable(JAVA_LEVELS[i])) {
                    return Optional.of(NIXL_LEVELS.get(i));
                }
            }
            return Optional.of("FATAL");
        }
        if (s.equals("WARNING")) {
            s = "WARN";
        }
        if (!NIXL_LEVELS.contains(s)) {
            throw new IllegalArgumentException("kvx.nixl.logLevel='" + setting + "' is not a NIXL log level; use one of "
                    + NIXL_LEVELS + " or 'logger' (follow the " + LOGGER + " logger's level)");
        }
        return Optional.of(s);
    }

    /**
     * Applies {@code -Dkvx.nixl.logLevel} to the process environment; call before NIXL loads.
     *
     * @return the level set, or empty when the setting is absent
     */
    static Optional<String> apply() {
        Optional<String> level = resolve(System.getProperty("kvx.nixl.logLevel"), System.getLogger(LOGGER));
        level.ifPresent(l -> Libc.setenv("NIXL_LOG_LEVEL", l));
        return level;
    }
}
