package dev.kvx.cli.hosts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Holds three namespace hosts ({@code etcd}, {@code h0}, {@code h1}) and an etcd server in the first
 * for scripts ({@code ci/hosts-figures.sh}): writes their names to an env file, waits until a stop
 * file appears (at most two hours), then removes everything.
 *
 * <pre>HostsLab ENV_FILE STOP_FILE</pre>
 */
public final class HostsLab {
    private HostsLab() {}

    /** See the class comment. */
    public static void main(String[] args) throws Exception {
        Path env = Path.of(args[0]);
        Path stop = Path.of(args[1]);
        try (NetnsHosts hosts = NetnsHosts.create(List.of("etcd", "h0", "h1"));
             EtcdProcess etcd = EtcdProcess.start(hosts, hosts.host("etcd"), EtcdProcess.findBinary())) {
            Files.writeString(env, "BR=" + hosts.bridgeNamespace() + "\nNS_ETCD=" + hosts.host("etcd").namespace()
                    + "\nNS0=" + hosts.host("h0").namespace() + "\nNS1=" + hosts.host("h1").namespace()
                    + "\nPORT1=" + hosts.host("h1").bridgePort() + "\nEP=" + etcd.endpoint()
                    + "\nNETEM=" + hosts.canDelay() + "\n");
            long deadline = System.nanoTime() + Duration.ofHours(2).toNanos();
            while (!Files.exists(stop) && System.nanoTime() - deadline < 0) {
                Thread.sleep(200);
            }
        }
    }
}
