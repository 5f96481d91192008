package dev.kvx.cli;

import dev.kvx.cli.soak.HostilePeer;
import dev.kvx.cli.soak.SoakOptions;
import dev.kvx.cli.soak.SoakWorker;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code kvx} command: {@code doctor}, {@code demo}, {@code soak} (and the hidden {@code worker}
 * and {@code hostile} processes the soak starts). Exit status: 0 ok, 1 failure, 2 bad usage.
 */
@Command(name = "kvx", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "KV-cache transfer over NIXL, from Java: check the installation, move real bytes, soak it.",
        subcommands = {Doctor.class, Demo.class, SoakOptions.class, SoakWorker.class, HostilePeer.class, CommandLine.HelpCommand.class},
        usageHelpWidth = 110,
        footer = {"", "Settings (system property / environment):",
            "  -Dkvx.nixl.lib / KVX_NIXL_LIB       a libnixl_capi.so to load",
            "  -Dkvx.native.dir / KVX_NATIVE_DIR   a native folder laid out like the checkout's .native/",
            "  -Dkvx.python / KVX_PYTHON           the Python whose pip-installed nixl-cu13 / nixl-cu12 to use",
            "  -Dkvx.nixl.logLevel / NIXL_LOG_LEVEL  NIXL's own log level"})
public final class Main implements Runnable {
    /** Exit status of a run that went well. */
    public static final int OK = 0;
    /** Exit status of a run that failed. */
    public static final int FAILED = 1;
    /** Exit status of bad usage: an unknown command or option, or a bad value. */
    public static final int USAGE = 2;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    private Main() {}

    /**
     * Runs a subcommand and exits with its status.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs a subcommand; testable without exiting.
     *
     * @param args the command line
     * @param out where the command's output goes
     * @param err where errors go
     * @return the exit status: 0 ok, 1 failure, 2 bad usage
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return commandLine(new PrintWriter(out, true, StandardCharsets.UTF_8), new PrintWriter(err, true, StandardCharsets.UTF_8))
                .execute(args);
    }

    /**
     * The configured command line with its exit codes and error handlers.
     *
     * @param out where the command's output goes
     * @param err where errors go
     * @return the command line, ready to {@code execute}
     */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOverwrittenOptionsAllowed(true); // the last of a repeated option wins, as in most tools
        cl.setParameterExceptionHandler(CliErrors::onBadUsage);
        cl.setExecutionExceptionHandler(CliErrors::onFailure);
        return cl;
    }

    /** {@code kvx} alone prints the usage. */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
