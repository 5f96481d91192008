package dev.kvx.cli.soak;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scheduled cross-host fault of {@code kvx soak --hosts}: what, on which host, when (seconds after
 * the load starts, as {@code --kill-generation-at}) and for how long.
 *
 * @param kind what happens
 * @param host the host it hits (null for a partition or an etcd restart)
 * @param atSeconds when it starts, seconds after the load starts
 * @param forSeconds how long until it is undone
 */
record HostFault(Kind kind, String host, double atSeconds, double forSeconds) {
    /** The kinds, with their option names. */
    enum Kind {
        CUT_LINK("cut-link", "--cut-link"), PARTITION("partition", "--partition"), LOSS("loss", "--loss"), DELAY("delay", "--delay"),
        KILL_HOST("kill-host", "--kill-host"), RESTART_ETCD("restart-etcd", "--restart-etcd-at");

        /** Its name in the report. */
        final String label;
        /** The option that asks for it. */
        final String option;

        Kind(String label, String option) {
            this.label = label;
            this.option = option;
        }
    }

    /** How long a fault lasts when its spec names no duration, in seconds. */
    static final double DEFAULT_SECONDS = 2;
    private static final Pattern HOST_AT = Pattern.compile("([a-z][a-z0-9]{0,11})@([0-9]+(?:\\.[0-9]+)?)(?::([0-9]+(?:\\.[0-9]+)?))?");
    private static final Pattern AT = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(?::([0-9]+(?:\\.[0-9]+)?))?");

    /** Parses {@code HOST@S[:D]} (e.g. {@code h1@8:2}). */
    static HostFault onHost(Kind kind, String spec) {
        Matcher m = HOST_AT.matcher(spec.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(kind.option + " takes HOST@S[:D] (a host name, the second it starts after the load "
                    + "starts, and optionally how many seconds it lasts, e.g. h1@8:2), got '" + spec + "'");
        }
        return new HostFault(kind, m.group(1), Double.parseDouble(m.group(2)), duration(kind, m.group(3)));
    }

    /** Parses {@code S[:D]} for faults without a host. */
    static HostFault at(Kind kind, String spec) {
        Matcher m = AT.matcher(spec.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(kind.option + " takes S[:D] (the second it starts after the load starts and "
                    + "optionally how many seconds it lasts, e.g. 10:2), got '" + spec + "'");
        }
        return new HostFault(kind, null, Double.parseDouble(m.group(1)), duration(kind, m.group(2)));
    }

    private static double duration(Kind kind, String d) {
        double v = d == null ? DEFAULT_SECONDS : Double.parseDouble(d);
        if (!(v > 0) || v > 3600) {
            throw new IllegalArgumentException(kind.option + ": the duration must be more than 0 and at most 3600 seconds, got " + d);
        }
        return v;
    }

    /** When it is undone, seconds after the load starts. */
    double untilSeconds() {
        return atSeconds + forSeconds;
    }

    /** Back in option form, e.g. {@code cut-link h1@8:2}. */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s %s%s:%s", kind.label, host == null ? "" : host + "@", num(atSeconds), num(forSeconds));
    }

    private static String num(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
