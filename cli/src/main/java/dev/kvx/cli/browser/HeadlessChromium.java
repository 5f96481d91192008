package dev.kvx.cli.browser;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A headless Chromium process with a fresh profile and its DevTools connection. Found as
 * {@code -Dkvx.chromium} / {@code KVX_CHROMIUM}, else {@code chromium}, {@code chromium-browser},
 * {@code google-chrome} on {@code PATH} (Debian: {@code apt-get install chromium}). Closing it ends the
 * process and deletes the profile.
 */
public final class HeadlessChromium implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HeadlessChromium.class.getName());
    /** What to install when no browser is found. */
    public static final String INSTALL_HINT = "install Debian's chromium ('apt-get install chromium', or run ci/provision-chromium.sh)"
            + " or point KVX_CHROMIUM at a Chromium/Chrome binary";
    private final Process process;
    private final Path profile;
    private final DevTools devTools;

    private HeadlessChromium(Process process, Path profile, DevTools devTools) {
        this.process = process;
        this.profile = profile;
        this.devTools = devTools;
    }

    /**
     * Where the browser is, if it is here.
     *
     * @return the executable, or empty
     */
    public static Optional<Path> find() {
        String explicit = System.getProperty("kvx.chromium", System.getenv("KVX_CHROMIUM"));
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String name : List.of("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) {
            for (String dir : path.split(java.io.File.pathSeparator)) {
                Path p = Path.of(dir.isEmpty() ? "." : dir, name);
                if (Files.isExecutable(p)) {
                    return Optional.of(p);
                }
            }
        }
        return Optional.empty();
    }

    /**
     * Starts the browser headless on a fresh profile and connects to it.
     *
     * @param binary the executable
     * @param timeout how long start-up may take
     * @return the running browser
     * @throws IOException when it does not start or does not open its DevTools port in time
     */
    public static HeadlessChromium launch(Path binary, Duration timeout) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory("kvx-chromium-");
        List<String> cmd = List.of(binary.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank");
        LOG.log(System.Logger.Level.DEBUG, "starting {0}", cmd);
        Path log = profile.resolve("chromium.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Path portFile = profile.resolve("DevToolsActivePort");
        long end = System.nanoTime() + timeout.toNanos();
        try {
            while (!Files.exists(portFile) || Files.readAllLines(portFile).size() < 2) {
                if (!p.isAlive() || System.nanoTime() > end) {
                    String why = p.isAlive() ? "did not open its DevTools port within " + timeout.toSeconds() + " s"
                            : "exited with status " + p.exitValue();
                    throw new IOException(binary + " " + why + "; its output: " + tail(log));
                }
                Thread.sleep(50);
            }
            List<String> lines = Files.readAllLines(portFile, StandardCharsets.UTF_8);
            URI ws = URI.create("ws://127.0.0.1:" + lines.get(0).trim() + lines.get(1).trim());
            return new HeadlessChromium(p, profile, DevTools.connect(ws, Duration.ofNanos(Math.max(1, end - System.nanoTime()))));
        } catch (IOException | InterruptedException | RuntimeException e) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            deleteTree(profile);
            throw e;
        }
    }

    /**
     * The browser-level DevTools connection.
     *
     * @return the connection
     */
    public DevTools devTools() {
        return devTools;
    }

    private static String tail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
        } catch (IOException e) {
            return "(unreadable)";
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not delete " + dir, e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            devTools.call("Browser.close", null, null, Duration.ofSeconds(5));
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "Browser.close: {0}", e.getMessage());
        } finally {
            devTools.close();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
            deleteTree(profile);
        }
    }
}
