package dev.kvx.nixl;

import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.memory.NativeBuffer;
import java.util.List;

/**
 * Memory registered with one agent's backends. While it is open the buffers it covers refuse to
 * close, so NIXL never holds a registration of freed memory. {@link #close()} deregisters; it is
 * idempotent, and the agent deregisters whatever is still open when it closes.
 */
public final class Registration implements AutoCloseable {
    private final NixlAgent agent;
    private final MemoryKind kind;
    private final List<NativeBuffer> buffers;
    private final List<MemoryDescriptor> descriptors;
    private boolean closed; // guarded by the agent's lock

    Registration(NixlAgent agent, MemoryKind kind, List<NativeBuffer> buffers, List<MemoryDescriptor> descriptors) {
        this.agent = agent;
        this.kind = kind;
        this.buffers = List.copyOf(buffers);
        this.descriptors = List.copyOf(descriptors);
    }

    /** The memory kind of every descriptor. */
    public MemoryKind kind() {
        return kind;
    }

    /** The registered ranges. */
    public List<MemoryDescriptor> descriptors() {
        return descriptors;
    }

    /** Whether the registration was closed (by itself or by its agent). */
    public boolean isClosed() {
        return agent.isRegistrationClosed(this);
    }

    List<NativeBuffer> buffers() {
        return buffers;
    }

    boolean closedFlag() {
        return closed;
    }

    void markClosed() {
        closed = true;
    }

    /** Deregisters and unpins the buffers. A no-op once the registration or its agent is closed. */
    @Override
    public void close() {
        agent.deregister(this);
    }

    @Override
    public String toString() {
        return "Registration[" + kind + " x" + descriptors.size() + " on " + agent.name() + "]";
    }
}
