package dev.kvx.transceiver;

import dev.kvx.KvxException;
import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.EtcdStore;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.transceiver.internal.control.EtcdGateway;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;

/**
 * A transceiver's use of etcd: its NIXL agent is created with NIXL's etcd store (which publishes and
 * withdraws the metadata), kvx reads keys itself with deadlines ({@link EtcdGateway}: NIXL 1.5.1's own fetch
 * can wedge its metadata thread when etcd is unreachable), and a keeper checks every 2 s that this side's
 * key is still there, publishing again after an etcd restart lost it.
 */
final class MetadataStore implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(MetadataStore.class.getName());
    private static final Object ENV = new Object(); // NIXL reads the store's settings from the process environment
    private final String endpoints;
    private final String namespace;
    private final String name;
    private final EtcdGateway gateway;
    private volatile boolean closed;
    private Thread keeper;

    MetadataStore(String endpoints, String namespace, String name) {
        this.endpoints = endpoints;
        this.namespace = namespace;
        this.name = name;
        this.gateway = new EtcdGateway(endpoints);
    }

    /** Creates the agent with NIXL's etcd store, setting NIXL's environment only for that creation. */
    NixlAgent createAgent(AgentConfig config) {
        synchronized (ENV) {
            EtcdStore.use(endpoints, namespace);
            try {
                return NixlAgent.createConfined(name, config);
            } finally {
                EtcdStore.clear();
            }
        }
    }

    /** Publishes through NIXL and waits until etcd has the key. */
    void publish(NixlAgent agent, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        agent.publishMetadata();
        long lastPublish = System.nanoTime();
        while (true) {
            Optional<byte[]> got;
            try {
                got = gateway.get(key(name), Duration.ofSeconds(2));
            } catch (KvxException e) {
                got = Optional.empty();
            }
            if (got.isPresent()) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new KvxException("kvx " + name + ": its metadata did not appear in etcd (" + this + ") within " + timeout
                        + "; is etcd up and reachable from here?");
            }
            LockSupport.parkNanos(20_000_000);
            if (System.nanoTime() - lastPublish >= 1_000_000_000L) {
                agent.publishMetadata(); // NIXL only logs a failed publish: try again every second
                lastPublish = System.nanoTime();
            }
        }
    }

    Optional<byte[]> fetch(String agent, Duration timeout) {
        return gateway.get(key(agent), timeout);
    }

    CompletableFuture<Optional<byte[]>> fetchAsync(String agent, Duration timeout) {
        CompletableFuture<Optional<byte[]>> f = new CompletableFuture<>();
        Thread.ofVirtual().name("kvx-etcd-fetch-" + agent).start(() -> {
            try {
                f.complete(fetch(agent, timeout));
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** Checks every 2 s that this side's key is in etcd and runs {@code republish} when it is not. */
    void keep(Runnable republish) {
        keeper = Thread.ofVirtual().name("kvx-etcd-keeper-" + name).start(() -> {
            while (!closed) {
                LockSupport.parkNanos(2_000_000_000L);
                if (closed) {
                    return;
                }
                try {
                    if (gateway.get(key(name), Duration.ofSeconds(2)).isEmpty()) {
                        LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": its metadata is gone from etcd (a restart?); publishing again");
                        republish.run();
                    }
                } catch (KvxException e) {
                    LOG.log(System.Logger.Level.DEBUG, () -> "kvx " + name + ": etcd check: " + e.getMessage());
                }
            }
        });
    }

    private String key(String agent) {
        return EtcdStore.metadataKey(namespace, agent);
    }

    @Override
    public void close() {
        closed = true;
        Thread k = keeper;
        if (k != null) {
            LockSupport.unpark(k);
        }
    }

    @Override
    public String toString() {
        return "etcd " + endpoints + ", namespace " + namespace;
    }
}
