package dev.kvx.transceiver.internal.engine;

import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.util.List;

/**
 * The engine's view of its NIXL agent: only what the transfer protocol needs. {@link NixlAgentPort} is
 * the real one (a NIXL agent confined to the engine thread); deterministic tests use a fake. Every call
 * comes from the engine thread. Native failures are thrown as {@link dev.kvx.nixl.NixlException}.
 */
public interface AgentPort extends AutoCloseable {
    /** A transfer made from prepared lists. */
    interface Xfer {
        /** Posts it: DONE if it finished inside the call, else IN_PROGRESS. */
        TransferState post();

        /** Polls it (drives progress): IN_PROGRESS or DONE; an error is thrown. */
        TransferState status();

        /** Releases it; idempotent. */
        void close();
    }

    /** A prepared descriptor list. */
    interface Prepared {
        /** Releases it; idempotent. */
        void close();
    }

    /** Receives polled notifications. */
    interface Sink {
        /** A notification of at most the cap, copied. */
        void message(String sender, byte[] bytes);

        /** A notification over the cap, not copied. */
        void oversized(String sender, long length);
    }

    /** The agent's name. */
    String name();

    /** This agent's metadata (connection info and registrations). */
    byte[] localMetadata();

    /** Loads a peer's metadata; returns the peer's name. */
    String loadRemote(byte[] metadata);

    /** Forgets a peer (disconnects from it). */
    void invalidateRemote(String peer);

    /** Whether the peer's metadata is loaded. */
    boolean hasRemote(String peer);

    /** Prepares a descriptor list of this agent's memory ({@code peer} null) or of a peer's. */
    Prepared prepare(String peer, MemoryKind kind, List<MemoryDescriptor> descriptors);

    /** Makes a transfer of {@code count} descriptor pairs from two prepared lists. */
    Xfer makeTransfer(TransferOp op, Prepared local, int[] localIndices, Prepared remote, int[] remoteIndices, int count,
                      byte[] notification);

    /** Sends a standalone notification. A failure means the peer cannot be reached. */
    void sendNotification(String peer, byte[] message);

    /** Takes the notifications that arrived; returns how many. */
    int pollNotifications(long maxBytes, Sink sink);

    /** Publishes this agent's metadata to the central store (etcd), if the agent has one. */
    default void publishMetadata() {
    }

    /** Withdraws this agent's metadata from the central store, if the agent has one. */
    default void withdrawMetadata() {
    }

    /** Hands the agent to another thread (caller-driven mode). */
    void confineTo(Thread thread);

    /** Destroys the agent and everything it owns. */
    @Override
    void close();
}
