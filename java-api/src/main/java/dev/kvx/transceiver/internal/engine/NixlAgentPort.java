package dev.kvx.transceiver.internal.engine;

import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.PreparedDescriptors;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.util.List;

/** The real {@link AgentPort}: a NIXL agent confined to the engine thread (no lock on any call). */
public final class NixlAgentPort implements AgentPort {
    private final NixlAgent agent;
    private final boolean centralStore;
    private Sink sink; // the current poll's sink; one handler object, so that a poll allocates nothing
    private final NixlAgent.NotificationHandler handler = new NixlAgent.NotificationHandler() {
        @Override
        public void message(String sender, byte[] bytes) {
            sink.message(sender, bytes);
        }

        @Override
        public void oversized(String sender, long length) {
            sink.oversized(sender, length);
        }
    };

    /** Wraps a confined agent; the port owns it from now on. */
    public NixlAgentPort(NixlAgent agent) {
        this(agent, false);
    }

    /** Wraps a confined agent created with a central store (etcd) when {@code centralStore}. */
    public NixlAgentPort(NixlAgent agent, boolean centralStore) {
        this.agent = agent;
        this.centralStore = centralStore;
    }

    @Override
    public void publishMetadata() {
        if (centralStore) {
            agent.publishMetadata();
        }
    }

    @Override
    public void withdrawMetadata() {
        if (centralStore) {
            agent.withdrawMetadata();
        }
    }

    private record NixlXfer(Transfer t) implements Xfer {
        @Override
        public TransferState post() {
            return t.post();
        }

        @Override
        public TransferState status() {
            return t.status();
        }

        @Override
        public void close() {
            t.close();
        }
    }

    private record NixlPrepared(PreparedDescriptors p) implements Prepared {
        @Override
        public void close() {
            p.close();
        }
    }

    @Override
    public String name() {
        return agent.name();
    }

    @Override
    public byte[] localMetadata() {
        return agent.localMetadata();
    }

    @Override
    public String loadRemote(byte[] metadata) {
        return agent.loadRemoteMetadata(metadata);
    }

    @Override
    public void invalidateRemote(String peer) {
        agent.invalidateRemote(peer);
    }

    @Override
    public boolean hasRemote(String peer) {
        return agent.hasRemote(peer);
    }

    @Override
    public Prepared prepare(String peer, MemoryKind kind, List<MemoryDescriptor> descriptors) {
        return new NixlPrepared(agent.prepare(peer, kind, descriptors));
    }

    @Override
    public Xfer makeTransfer(TransferOp op, Prepared local, int[] localIndices, Prepared remote, int[] remoteIndices, int count,
                             byte[] notification) {
        return new NixlXfer(agent.makeTransfer(op, ((NixlPrepared) local).p(), localIndices, ((NixlPrepared) remote).p(),
                remoteIndices, count, notification));
    }

    @Override
    public void sendNotification(String peer, byte[] message) {
        agent.sendNotification(peer, message);
    }

    @Override
    public int pollNotifications(long maxBytes, Sink sink) {
        this.sink = sink;
        return agent.pollNotifications(maxBytes, handler);
    }

    @Override
    public void confineTo(Thread thread) {
        agent.confineTo(thread);
    }

    @Override
    public void close() {
        agent.close();
    }
}
