package dev.kvx.nixl;

import dev.kvx.AlreadyClosedException;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A descriptor list NIXL prepared once ({@code nixl_capi_prep_xfer_dlist}), from which
 * {@link NixlAgent#makeTransfer} builds transfers by index. Owned by its agent: {@link #close()}
 * releases it, and the agent releases what is still open when it closes.
 */
public final class PreparedDescriptors implements AutoCloseable {
    final NixlAgent agent;
    private final String remoteAgent;
    private final MemoryKind kind;
    private final long[] lengths;
    volatile MemorySegment handle; // null once released; written under the agent's guard

    PreparedDescriptors(NixlAgent agent, String remoteAgent, MemoryKind kind, List<MemoryDescriptor> descs, MemorySegment handle) {
        this.agent = agent;
        this.remoteAgent = remoteAgent;
        this.kind = kind;
        this.lengths = new long[descs.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = descs.get(i).length();
        }
        this.handle = handle;
    }

    /** The peer whose memory the list describes, or null for the agent's own memory. */
    public String remoteAgent() {
        return remoteAgent;
    }

    /** The memory kind of the descriptors. */
    public MemoryKind kind() {
        return kind;
    }

    /** Number of descriptors. */
    public int size() {
        return lengths.length;
    }

    long length(int index) {
        if (index < 0 || index >= lengths.length) {
            throw new IndexOutOfBoundsException("descriptor index " + index + " outside a prepared list of " + lengths.length);
        }
        return lengths[index];
    }

    MemorySegment live() {
        MemorySegment h = handle;
        if (h == null) {
            throw new AlreadyClosedException("prepared descriptor list " + this + " was released");
        }
        return h;
    }

    /** Releases the list; idempotent. */
    @Override
    public void close() {
        agent.releasePrepared(this);
    }

    @Override
    public String toString() {
        return "PreparedDescriptors[" + lengths.length + " " + kind + " of " + (remoteAgent == null ? agent.name() : remoteAgent) + "]";
    }
}
