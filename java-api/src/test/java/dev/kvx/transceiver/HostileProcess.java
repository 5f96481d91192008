package dev.kvx.transceiver;

import dev.kvx.internal.NativeLibraries;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The test's handle on the hostile JVM ({@link HostilePeerMain}): one command, one answer, each with a deadline. */
final class HostileProcess implements AutoCloseable {
    private static final long ANSWER_SECONDS = 60;
    private final Process process;
    private final PrintWriter stdin;
    private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
    private final Path log;

    HostileProcess() throws IOException, InterruptedException {
        log = Files.createTempFile("kvx-hostile", ".log");
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-Xmx1g", "-Dkvx.native.dir=" + NativeLibraries.nativeDir(), "-cp", System.getProperty("java.class.path"),
                HostilePeerMain.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
        pb.environment().putIfAbsent("NIXL_LOG_LEVEL", "ERROR");
        process = pb.start();
        stdin = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("OK") || line.startsWith("ERR") || line.startsWith("READY")) {
                        answers.add(line);
                    }
                }
            } catch (IOException e) {
                // the process went away: call() says so at its deadline
            }
        }, "hostile-reader");
        reader.setDaemon(true);
        reader.start();
        String ready = answers.poll(ANSWER_SECONDS, TimeUnit.SECONDS);
        if (ready == null || !ready.startsWith("READY")) {
            process.destroyForcibly();
            throw new IllegalStateException("the hostile process did not start: " + ready + "\n" + log());
        }
    }

    /** Sends a command; returns its answer after "OK "; fails the test on "ERR" or silence. */
    String call(String command) throws InterruptedException {
        stdin.println(command);
        String a = answers.poll(ANSWER_SECONDS, TimeUnit.SECONDS);
        if (a == null) {
            throw new AssertionError("the hostile process did not answer '" + command + "' within " + ANSWER_SECONDS + " s (alive: "
                    + process.isAlive() + ")\n" + log());
        }
        if (!a.startsWith("OK")) {
            throw new AssertionError("the hostile process failed '" + command + "': " + a + "\n" + log());
        }
        return a.length() > 3 ? a.substring(3) : "";
    }

    /** Sends a command that must fail; returns the error after "ERR ". */
    String callFailing(String command) throws InterruptedException {
        stdin.println(command);
        String a = answers.poll(ANSWER_SECONDS, TimeUnit.SECONDS);
        if (a == null || !a.startsWith("ERR")) {
            throw new AssertionError("'" + command + "' should have failed, the hostile process answered: " + a + "\n" + log());
        }
        return a.substring(4);
    }

    String log() {
        try {
            String s = Files.readString(log);
            return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    @Override
    public void close() throws Exception {
        stdin.println("QUIT");
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        Files.deleteIfExists(log);
    }
}
