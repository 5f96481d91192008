package dev.kvx.cli.hosts;

import java.util.Objects;

/**
 * One "host": a network namespace with loopback and one interface ({@link #INTERFACE}) cabled to the
 * run's bridge.
 *
 * @param name logical name given by the caller (e.g. {@code h0}, {@code etcd})
 * @param namespace the Linux network namespace ({@code kvx<pid>-<name>})
 * @param address its IPv4 address on the private /24
 * @param bridgePort the bridge-side end of its cable, in the bridge's namespace
 */
public record NetnsHost(String name, String namespace, String address, String bridgePort) {
    /** The host's interface name inside its namespace. */
    public static final String INTERFACE = "eth0";

    /** Checks the fields. */
    public NetnsHost {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(bridgePort, "bridgePort");
    }

    @Override
    public String toString() {
        return name + "(" + address + ")";
    }
}
