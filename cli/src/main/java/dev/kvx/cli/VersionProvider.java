package dev.kvx.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;

/**
 * {@code kvx --version}: the Maven project version and the native pins it was built against, from
 * {@code version.properties} (filtered by Maven at build time).
 */
public final class VersionProvider implements CommandLine.IVersionProvider {
    /** Creates the provider (picocli instantiates it). */
    public VersionProvider() {}

    /**
     * The build's properties: {@code version}, {@code nixl}, {@code cudart}.
     *
     * @return the properties read from the jar
     */
    public static Properties buildInfo() {
        Properties p = new Properties();
        try (InputStream in = VersionProvider.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    @Override
    public String[] getVersion() {
        Properties p = buildInfo();
        return new String[] {
            "kvx " + p.getProperty("version", "(unknown: not built by Maven)"),
            "built against NIXL " + p.getProperty("nixl", "?") + " (nixl-cu13 wheel), CUDA runtime " + p.getProperty("cudart", "?"),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"
        };
    }
}
