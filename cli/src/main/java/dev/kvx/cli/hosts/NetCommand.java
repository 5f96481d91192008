package dev.kvx.cli.hosts;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs one networking tool ({@code ip}, {@code tc}, {@code nft}) to completion under a deadline and
 * returns its output; a non-zero exit becomes a {@link NetCommandException} with the command line and
 * the tool's own message.
 */
public final class NetCommand {
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    private NetCommand() {}

    /** The output of a command that must succeed. */
    static String run(List<String> command) {
        Result r = attempt(command, null);
        if (r.exit != 0) {
            throw new NetCommandException(command, r.exit, r.output);
        }
        return r.output;
    }

    /** Runs a command that must succeed, feeding {@code stdin} to it (e.g. {@code nft -f -}). */
    static String run(List<String> command, String stdin) {
        Result r = attempt(command, stdin);
        if (r.exit != 0) {
            throw new NetCommandException(command, r.exit, r.output + "\ninput was:\n" + stdin);
        }
        return r.output;
    }

    /** Exit status and merged output; never throws for a non-zero exit. */
    static Result attempt(List<String> command, String stdin) {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
        }
        try {
            if (stdin != null) {
                p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            p.getOutputStream().close();
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
                try {
                    return p.getInputStream().readAllBytes();
                } catch (IOException e) {
                    return new byte[0];
                }
            });
            if (!p.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new NetCommandException(command, -1, "did not finish within " + DEADLINE);
            }
            return new Result(p.exitValue(), new String(out.join(), StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            p.destroyForcibly();
            throw new UncheckedIOException("talking to " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new NetCommandException(command, -1, "interrupted");
        }
    }

    /** {@code ip -n NS args...} (or plain {@code ip args...} for a null namespace). */
    static List<String> ip(String namespace, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        if (namespace != null) {
            cmd.addAll(List.of("-n", namespace));
        }
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** {@code ip netns exec NS args...}. */
    static List<String> inNamespace(String namespace, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** A finished command. */
    public record Result(int exit, String output) {}

    /** A networking command that failed. */
    public static final class NetCommandException extends RuntimeException {
        NetCommandException(List<String> command, int exit, String output) {
            super("'" + String.join(" ", command) + "' failed (exit " + exit + "): " + output);
        }
    }
}
