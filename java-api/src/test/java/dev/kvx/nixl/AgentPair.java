package dev.kvx.nixl;

import dev.kvx.memory.HostBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Two real NIXL agents with UCX in this JVM, A having loaded B's metadata, plus what they own. */
final class AgentPair implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    final NixlAgent a;
    final NixlAgent b;
    private final List<AutoCloseable> owned = new ArrayList<>();

    AgentPair() {
        int n = SEQ.incrementAndGet();
        a = NixlAgent.createWithUcx("ctx-" + n);
        b = NixlAgent.createWithUcx("gen-" + n);
    }

    HostBuffer buffer(NixlAgent owner, long size) {
        HostBuffer buf = HostBuffer.allocate(size, owner.name() + "-buf");
        owned.add(0, buf);
        return buf;
    }

    Registration register(NixlAgent owner, HostBuffer... bufs) {
        Registration r = owner.register(bufs);
        owned.add(0, r);
        return r;
    }

    /** A loads B's metadata (after B registered what A will address). */
    void connect() {
        String name = a.loadRemoteMetadata(b.localMetadata());
        if (!name.equals(b.name())) {
            throw new AssertionError("loaded " + name + ", expected " + b.name());
        }
    }

    @Override
    public void close() throws Exception {
        a.close();
        b.close();
        for (AutoCloseable c : owned) {
            c.close();
        }
    }
}
