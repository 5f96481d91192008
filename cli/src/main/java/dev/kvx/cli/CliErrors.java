package dev.kvx.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/** How the {@code kvx} command reports bad usage (status 2) and failures (status 1). */
final class CliErrors {
    private static final System.Logger LOG = System.getLogger(CliErrors.class.getName());

    private CliErrors() {}

    /** Bad usage: the message, suggestions for a misspelt name, where the help is; status 2. */
    static int onBadUsage(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println(cl.getCommandSpec().qualifiedName() + ": " + message(e, cl));
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return cl.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** picocli's message, except that a word where a command belongs is called an unknown command. */
    private static String message(CommandLine.ParameterException e, CommandLine cl) {
        if (e instanceof CommandLine.UnmatchedArgumentException u && !cl.getSubcommands().isEmpty()
                && !u.getUnmatched().isEmpty() && !u.getUnmatched().getFirst().startsWith("-")) {
            String commands = cl.getSubcommands().entrySet().stream().filter(c -> !c.getValue().getCommandSpec().usageMessage().hidden())
                    .map(java.util.Map.Entry::getKey).collect(java.util.stream.Collectors.joining(", "));
            return "unknown command '" + u.getUnmatched().getFirst() + "' (commands: " + commands + ")";
        }
        return e.getMessage();
    }

    /** A failure inside a command: one line with the cause chain (the stack trace at DEBUG); status 1. */
    static int onFailure(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        if (e instanceof CommandLine.ParameterException pe) { // a check that needs more than one option
            return onBadUsage(pe, parsed.originalArgs().toArray(String[]::new));
        }
        LOG.log(System.Logger.Level.DEBUG, cl.getCommandSpec().qualifiedName() + " failed", e);
        PrintWriter err = cl.getErr();
        StringBuilder sb = new StringBuilder(cl.getCommandSpec().qualifiedName()).append(" failed: ").append(e);
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            sb.append("\n  caused by: ").append(c);
        }
        err.println(sb);
        err.flush();
        return cl.getCommandSpec().exitCodeOnExecutionException();
    }
}
