package dev.kvx.cli.hosts;

/**
 * Network-namespace hosts cannot be made here (not root, no {@code ip}, namespaces refused). The
 * message says what is missing and what to do; callers stop cleanly or skip.
 */
public final class HostsUnavailableException extends RuntimeException {
    /** With the reason and the remedy. */
    public HostsUnavailableException(String message) {
        super(message);
    }

    /** With the reason, the remedy and the failure that showed it. */
    public HostsUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
