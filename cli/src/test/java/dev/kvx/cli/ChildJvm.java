package dev.kvx.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command line in a fresh JVM (what is loaded once per process, such as NIXL, starts over). */
public final class ChildJvm {
    /** What the child did. */
    public record Result(int status, String out, String err) {}

    private ChildJvm() {}

    /**
     * Runs {@code java <jvmArgs> <mainAndArgs>} with this test's class path.
     *
     * @param dir the working directory
     * @param env changes to the environment (a null value removes the variable)
     * @param jvmArgs JVM options
     * @param mainAndArgs the main class (or {@code -jar x}) and its arguments
     * @return status and output; the child is killed after two minutes
     */
    public static Result run(Path dir, Map<String, String> env, List<String> jvmArgs, String... mainAndArgs)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        if (!jvmArgs.contains("-cp") && !List.of(mainAndArgs).contains("-jar")) {
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
        }
        cmd.addAll(List.of(mainAndArgs));
        return exec(dir, env, cmd);
    }

    /**
     * Runs any command with a deadline of two minutes.
     *
     * @param dir the working directory
     * @param env changes to the environment (a null value removes the variable)
     * @param cmd the command
     * @return status and output
     */
    public static Result exec(Path dir, Map<String, String> env, List<String> cmd) throws IOException, InterruptedException {
        File out = File.createTempFile("kvx-child", ".out");
        File err = File.createTempFile("kvx-child", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out).redirectError(err)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            env.forEach((k, v) -> {
                if (v == null) {
                    pb.environment().remove(k);
                } else {
                    pb.environment().put(k, v);
                }
            });
            Process p = pb.start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IllegalStateException(cmd + " did not finish within 120 s; stderr: " + Files.readString(err.toPath()));
            }
            return new Result(p.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8),
                    Files.readString(err.toPath(), StandardCharsets.UTF_8));
        } finally {
            out.delete();
            err.delete();
        }
    }
}
