package dev.kvx.transceiver;

import dev.kvx.nixl.NixlAgent;
import dev.kvx.transceiver.internal.engine.EngineRunner;
import dev.kvx.transceiver.internal.engine.NixlAgentPort;
import dev.kvx.transceiver.internal.engine.TransceiverEngine;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/** Puts a transceiver together from its builder: the confined NIXL agent, the engine, its thread. */
final class TransceiverAssembly {
    private static final System.Logger LOG = System.getLogger(CacheTransceiver.class.getName());

    private TransceiverAssembly() {}

    /** Lets pull mode run over a GPU pool anyway (to measure it): {@code -Dkvx.pull.allowVram=true}. */
    static final String ALLOW_VRAM_PULL = "kvx.pull.allowVram";

    static CacheTransceiver build(CacheTransceiver.Builder b) {
        if (b.config.transferMode() == TransferMode.PULL && b.pool.region().kind() == dev.kvx.memory.MemoryKind.VRAM
                && !Boolean.getBoolean(ALLOW_VRAM_PULL)) {
            throw new IllegalArgumentException("kvx " + b.name + ": pull mode (READ) with a pool in GPU memory is refused: "
                    + "NIXL's UCX moves READs of GPU memory between processes by software emulation (staged copies over "
                    + "active messages), measured at 0.5-0.7 GB/s and 20-30 ms of CPU per 16 MiB on each side on an H100, "
                    + "where WRITE goes over cuda_ipc at 50-100 GB/s (BENCHMARKS-H100-host.md). Use TransferMode.PUSH for GPU "
                    + "pools, or -D" + ALLOW_VRAM_PULL + "=true to measure pull anyway");
        }
        SharedSecret secret = b.secret != null ? b.secret : SharedSecret.fromConfiguration();
        if (secret.isInsecure()) {
            LOG.log(System.Logger.Level.WARNING, "kvx " + b.name + ": running WITHOUT a secret (insecure mode): any process that "
                    + "can reach this host can connect, and the pool's memory keys go to whoever connects. Use it only on a "
                    + "single trusted host; configure a secret (KVX_SECRET_FILE) otherwise");
        }
        if (b.warmUpRequests > 0) {
            TransceiverWarmup.run(b, b.warmUpRequests); // before this agent exists: no peer can reach it yet
        }
        MetadataStore store = b.etcdEndpoints == null ? null : new MetadataStore(b.etcdEndpoints, b.etcdNamespace, b.name);
        NixlAgent agent = store == null ? NixlAgent.createConfined(b.name, b.agentConfig) : store.createAgent(b.agentConfig);
        ExecutorService owned = null;
        try {
            agent.createBackend("UCX", b.ucxParams != null ? b.ucxParams : NixlAgent.defaultUcxParams());
            agent.register(b.pool.region());
            Executor executor = b.executor;
            if (executor == null && !b.callerDriven) {
                owned = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("kvx-outcome-" + b.name + "-", 0).factory());
                executor = owned;
            }
            NixlAgentPort port = new NixlAgentPort(agent, store != null);
            if (store != null) {
                store.publish(agent, b.config.handshakeTimeout()); // before the engine takes the agent: checked in etcd
            }
            TransceiverEngine engine = new TransceiverEngine(b.name, b.config, secret, b.pool, port, b.clock, executor);
            EngineRunner runner = null;
            if (!b.callerDriven) {
                ThreadFactory tf = b.threadFactory != null ? b.threadFactory : r -> {
                    Thread t = new Thread(r, "kvx-engine-" + b.name);
                    t.setDaemon(true);
                    return t;
                };
                runner = new EngineRunner(engine, tf);
                port.confineTo(runner.thread());
            }
            CacheTransceiver tx = new CacheTransceiver(b.name, b.config, b.pool, engine, runner, owned, secret);
            if (runner != null) {
                runner.start();
            }
            if (store != null) {
                engine.resolveUnknownAgentsWith(name -> store.fetchAsync(name, b.config.handshakeTimeout()));
                tx.attachStore(store);
                store.keep(engine::republish);
            }
            if (b.listen != null) {
                try {
                    tx.attachControlServer(new dev.kvx.transceiver.internal.control.ControlServer(b.listen, secret, b.name,
                            tx::localMetadata, (client, md) -> tx.admit(md, b.config.handshakeTimeout()),
                            b.config.limits().maxMetadataBytes(), b.config.handshakeTimeout()));
                } catch (RuntimeException e) {
                    tx.close();
                    throw e;
                }
            }
            LOG.log(System.Logger.Level.DEBUG, () -> "kvx " + b.name + ": up (" + (b.callerDriven ? "caller-driven" : "engine thread")
                    + ", " + b.config.transferMode() + ", secret from " + secret.source() + ")");
            return tx;
        } catch (RuntimeException | Error e) {
            try {
                agent.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (owned != null) {
                owned.shutdown();
            }
            throw e;
        }
    }
}
