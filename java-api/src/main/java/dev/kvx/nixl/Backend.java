package dev.kvx.nixl;

import java.lang.foreign.MemorySegment;

/**
 * A transfer backend (NIXL plugin instance, e.g. {@code UCX}) created inside one agent. NIXL owns the
 * engine until the agent is destroyed; kvx frees the small handle wrapper then, too.
 */
public final class Backend {
    private final NixlAgent agent;
    private final String name;
    final MemorySegment handle;

    Backend(NixlAgent agent, String name, MemorySegment handle) {
        this.agent = agent;
        this.name = name;
        this.handle = handle;
    }

    /** The plugin name. */
    public String name() {
        return name;
    }

    /** The agent that owns this backend. */
    public NixlAgent agent() {
        return agent;
    }

    /** The backend's effective parameters and memory kinds, as NIXL reports them after init. */
    public PluginInfo info() {
        return agent.backendInfo(this);
    }

    @Override
    public String toString() {
        return "Backend[" + name + " of " + agent.name() + "]";
    }
}
