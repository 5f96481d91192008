package dev.kvx.transceiver.internal.engine;

import dev.kvx.nixl.NixlAgent;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.LockSupport;

/**
 * Pays a fresh JVM's one-time costs while a transceiver is built rather than in its first requests:
 * links the hot NIXL calls, runs one notification to this agent and back through the wire codec and a
 * MAC check, loads the JFR event class and starts the outcome executor. Best effort: a step that fails
 * only leaves its cost to the first request. Measured: the first requests of a fresh process were
 * 60–260 ms late without it (downcall linking, class loading and cold crypto inside the engine loop).
 */
final class EngineWarmup {
    private static final System.Logger LOG = System.getLogger(EngineWarmup.class.getName());

    private EngineWarmup() {}

    static void run(AgentPort port, MacKey key, Executor executor) {
        try {
            NixlAgent.linkHotCalls();
        } catch (RuntimeException | LinkageError e) {
            LOG.log(System.Logger.Level.DEBUG, "warm-up: linking", e);
        }
        try {
            byte[] frame = WireCodec.encode(new WireMessage.Ping(), Long.MIN_VALUE, 1, key);
            port.sendNotification(port.name(), frame);
            boolean[] back = new boolean[1];
            long until = System.nanoTime() + 500_000_000L;
            while (!back[0] && System.nanoTime() - until < 0) {
                port.pollNotifications(1 << 20, new AgentPort.Sink() {
                    @Override
                    public void message(String sender, byte[] bytes) {
                        if (WireCodec.looksLikeKvx(bytes) && WireCodec.checkHeader(bytes) != null && WireCodec.macValid(bytes, key)) {
                            WireCodec.decode(bytes);
                            back[0] = true;
                        }
                    }

                    @Override
                    public void oversized(String sender, long length) {
                    }
                });
                LockSupport.parkNanos(20_000);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "warm-up: self notification", e);
        }
        new TransferEvent().shouldCommit();
        if (executor != null) {
            try {
                executor.execute(() -> { });
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "warm-up: executor", e);
            }
        }
    }
}
