package dev.kvx.transceiver.internal.engine;

import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.memory.NativeBuffer;
import dev.kvx.nixl.NixlException;
import dev.kvx.nixl.NixlFailures;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * An {@link AgentPort} entirely in memory, for deterministic engine tests. Fake agents find each other
 * through a {@link Network}: a notification goes straight into the peer's inbox and is delivered by the
 * peer's next {@link #pollNotifications}; a transfer does nothing until the test scripts it (it stays
 * IN_PROGRESS until {@link FakeXfer#land}, or its post or status throws), and when it lands it copies the
 * blocks between the two agents' registered memories and delivers its notification ({@code Done}) to the
 * peer. Like NIXL, a send or a transfer to a peer whose metadata is not loaded fails (a notification to
 * itself works); the test can also make every send to a peer fail ({@link #failSendsTo}: the peer's
 * endpoint is gone). Misuse the real agent would reject (a call on a closed transfer, a second post) is
 * recorded in {@link #misuse}. Single-threaded.
 */
final class FakeAgentPort implements AgentPort {
    /** Where fake agents find each other and each other's memory; one per test. */
    static final class Network {
        private final Map<String, FakeAgentPort> agents = new HashMap<>();
        private final List<NativeBuffer> memories = new ArrayList<>();

        private Region resolve(long address, long length) {
            for (NativeBuffer m : memories) {
                if (address >= m.address() && address + length <= m.address() + m.size()) {
                    return new Region(m, address - m.address());
                }
            }
            throw new AssertionError("no registered memory holds [" + address + ", +" + length + ")");
        }
    }

    private record Region(NativeBuffer buffer, long offset) {}

    /** One notification this agent sent, standalone or attached to a transfer that landed. */
    record Sent(String peer, byte[] bytes, boolean attached, boolean lost) {
        WireCodec.Frame frame() {
            return WireCodec.decode(bytes);
        }

        WireMessage message() {
            return frame().message();
        }
    }

    private record Inbound(String sender, byte[] bytes) {}

    /** What the next transfer's post does. */
    enum Post {
        /** Returns IN_PROGRESS; the transfer lands when the test says so. */
        IN_PROGRESS,
        /** Lands inside the post and returns DONE. */
        DONE,
        /** Throws a NIXL error (parts of a multi-descriptor transfer may be in flight: the test decides). */
        THROW
    }

    private final String name;
    private final Network net;
    private final Set<String> loaded = new HashSet<>();
    private final Set<String> unreachable = new HashSet<>();
    private final ArrayDeque<Inbound> inbox = new ArrayDeque<>();
    private final ArrayDeque<Post> scripts = new ArrayDeque<>();
    /** Every notification sent, in order. */
    final List<Sent> sent = new ArrayList<>();
    /** Every transfer made, in order. */
    final List<FakeXfer> transfers = new ArrayList<>();
    /** What the real agent would have refused. */
    final List<String> misuse = new ArrayList<>();
    /** Outgoing session messages matching this are logged but never arrive (a lossy link). */
    Predicate<WireMessage> lose = m -> false;
    private boolean closed;

    /** A fake agent named {@code name} whose registered memory is {@code memory}. */
    FakeAgentPort(String name, Network net, NativeBuffer memory) {
        this.name = name;
        this.net = net;
        if (net.agents.putIfAbsent(name, this) != null) {
            throw new IllegalArgumentException("agent name " + name + " is taken");
        }
        net.memories.add(memory);
    }

    /** Scripts what the next transfer's post does (by default it stays IN_PROGRESS). */
    void scriptNextPost(Post p) {
        scripts.add(p);
    }

    /** Every send to {@code peer} fails from now on (its endpoint is gone), or works again. */
    void failSendsTo(String peer, boolean fail) {
        if (fail) {
            unreachable.add(peer);
        } else {
            unreachable.remove(peer);
        }
    }

    boolean isClosed() {
        return closed;
    }

    FakeXfer lastTransfer() {
        if (transfers.isEmpty()) {
            throw new AssertionError(name + " made no transfer");
        }
        return transfers.getLast();
    }

    /** The session messages this agent sent (standalone and attached), decoded. */
    List<WireMessage> sentMessages() {
        List<WireMessage> out = new ArrayList<>();
        for (Sent s : sent) {
            out.add(s.message());
        }
        return out;
    }

    /** The sent messages of one type about one request. */
    <T extends WireMessage> List<T> sent(Class<T> type, long requestId) {
        return sentSince(0, type, requestId);
    }

    /** How many notifications were sent so far (a mark for {@link #sentSince}). */
    int mark() {
        return sent.size();
    }

    /** The messages of one type about one request sent since {@code mark}. */
    <T extends WireMessage> List<T> sentSince(int mark, Class<T> type, long requestId) {
        List<T> out = new ArrayList<>();
        for (Sent s : sent.subList(mark, sent.size())) {
            WireMessage m = s.message();
            if (type.isInstance(m) && m.requestId() == requestId) {
                out.add(type.cast(m));
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- AgentPort

    @Override
    public String name() {
        return name;
    }

    @Override
    public byte[] localMetadata() {
        return ("fake:" + name).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String loadRemote(byte[] metadata) {
        open();
        String md = new String(metadata, StandardCharsets.UTF_8);
        if (!md.startsWith("fake:") || !net.agents.containsKey(md.substring(5))) {
            throw NixlFailures.of("nixl_capi_load_remote_md", -2, "not the metadata of a fake agent: " + md);
        }
        String peer = md.substring(5);
        loaded.add(peer);
        return peer;
    }

    @Override
    public void invalidateRemote(String peer) {
        open();
        if (!loaded.remove(peer)) {
            throw NixlFailures.of("nixl_capi_invalidate_remote_md", -2, peer + " is not loaded");
        }
    }

    @Override
    public boolean hasRemote(String peer) {
        return loaded.contains(peer);
    }

    @Override
    public Prepared prepare(String peer, MemoryKind kind, List<MemoryDescriptor> descriptors) {
        open();
        if (peer != null && !loaded.contains(peer)) {
            throw NixlFailures.of("nixl_capi_prep_xfer_dlist", -2, "no metadata of " + peer);
        }
        return new FakePrepared(peer, descriptors);
    }

    @Override
    public Xfer makeTransfer(TransferOp op, Prepared local, int[] localIndices, Prepared remote, int[] remoteIndices, int count,
                             byte[] notification) {
        open();
        FakePrepared l = (FakePrepared) local;
        FakePrepared r = (FakePrepared) remote;
        if (l.peer != null || r.peer == null || l.closed || r.closed) {
            misuse.add("makeTransfer with lists " + l + " and " + r);
        }
        if (!loaded.contains(r.peer)) {
            throw NixlFailures.of("nixl_capi_make_xfer_req", -2, "no metadata of " + r.peer);
        }
        for (int i = 0; i < count; i++) {
            if (localIndices[i] >= l.descriptors.size() || remoteIndices[i] >= r.descriptors.size()) {
                throw NixlFailures.of("nixl_capi_make_xfer_req", -2, "descriptor index out of range");
            }
        }
        FakeXfer x = new FakeXfer(op, l, java.util.Arrays.copyOf(localIndices, count), r, java.util.Arrays.copyOf(remoteIndices, count),
                count, notification == null ? null : notification.clone(), scripts.isEmpty() ? Post.IN_PROGRESS : scripts.poll());
        transfers.add(x);
        return x;
    }

    @Override
    public void sendNotification(String peer, byte[] message) {
        open();
        deliver(peer, message, false);
    }

    private void deliver(String peer, byte[] bytes, boolean attached) {
        FakeAgentPort target = net.agents.get(peer);
        if (unreachable.contains(peer) || (!loaded.contains(peer) && target != this) || target == null || target.closed) {
            throw NixlFailures.of("nixl_capi_gen_notif", -2, "endpoint to " + peer + " failed (fake)");
        }
        boolean lost = WireCodec.looksLikeKvx(bytes) && lose.test(WireCodec.decode(bytes).message());
        sent.add(new Sent(peer, bytes.clone(), attached, lost));
        if (!lost) {
            target.inbox.add(new Inbound(name, bytes.clone()));
        }
    }

    @Override
    public int pollNotifications(long maxBytes, Sink sink) {
        open();
        int n = inbox.size();
        for (int i = 0; i < n; i++) {
            Inbound m = inbox.poll();
            if (m.bytes.length > maxBytes) {
                sink.oversized(m.sender, m.bytes.length);
            } else {
                sink.message(m.sender, m.bytes);
            }
        }
        return n;
    }

    @Override
    public void confineTo(Thread thread) {
        // single-threaded by construction
    }

    @Override
    public void close() {
        closed = true;
    }

    private void open() {
        if (closed) {
            misuse.add("call on the closed agent " + name);
            throw new IllegalStateException("agent " + name + " is closed");
        }
    }

    // ---------------------------------------------------------------- prepared lists and transfers

    private static final class FakePrepared implements Prepared {
        final String peer;
        final List<MemoryDescriptor> descriptors;
        boolean closed;

        FakePrepared(String peer, List<MemoryDescriptor> descriptors) {
            this.peer = peer;
            this.descriptors = descriptors;
        }

        @Override
        public void close() {
            closed = true;
        }

        @Override
        public String toString() {
            return (peer == null ? "local" : "remote " + peer) + (closed ? " (closed)" : "");
        }
    }

    /** A scripted transfer: IN_PROGRESS until the test lands or fails it. */
    final class FakeXfer implements Xfer {
        final TransferOp op;
        private final FakePrepared local;
        final int[] localIndices;
        private final FakePrepared remote;
        final int[] remoteIndices;
        final int count;
        private final byte[] notification;
        private final Post script;
        private TransferState state = TransferState.PREPARED;
        private NixlException statusError;
        boolean posted;
        boolean postThrew;
        boolean closed;
        boolean landed;

        private FakeXfer(TransferOp op, FakePrepared local, int[] li, FakePrepared remote, int[] ri, int count, byte[] notification,
                         Post script) {
            this.op = op;
            this.local = local;
            this.localIndices = li;
            this.remote = remote;
            this.remoteIndices = ri;
            this.count = count;
            this.notification = notification;
            this.script = script;
        }

        @Override
        public TransferState post() {
            if (closed || posted) {
                misuse.add((closed ? "post of a closed transfer" : "second post of a transfer"));
                throw new IllegalStateException("bad post");
            }
            posted = true;
            switch (script) {
                case THROW -> {
                    postThrew = true;
                    throw NixlFailures.of("nixl_capi_post_xfer_req", -2, "scripted failure of a " + count + "-descriptor " + op);
                }
                case DONE -> land(true);
                case IN_PROGRESS -> state = TransferState.IN_PROGRESS;
            }
            return state;
        }

        @Override
        public TransferState status() {
            if (closed) {
                misuse.add("status of a closed transfer");
                throw new IllegalStateException("status of a closed transfer");
            }
            if (statusError != null) {
                throw statusError;
            }
            return state;
        }

        @Override
        public void close() {
            closed = true;
        }

        /** From now on its status reports this NIXL error (the transfer failed). */
        void failStatus(NixlException e) {
            statusError = e;
        }

        /**
         * The data lands: copies the blocks (WRITE: ours to the peer's; READ: the peer's to ours) and, if
         * {@code notify}, delivers the attached notification to the peer. Allowed whatever the engine did
         * with the handle: a transfer NIXL posted lands on its own schedule.
         */
        void land(boolean notify) {
            for (int i = 0; i < count; i++) {
                MemoryDescriptor mine = local.descriptors.get(localIndices[i]);
                MemoryDescriptor theirs = remote.descriptors.get(remoteIndices[i]);
                MemoryDescriptor from = op == TransferOp.WRITE ? mine : theirs;
                MemoryDescriptor to = op == TransferOp.WRITE ? theirs : mine;
                if (from.length() != to.length()) {
                    throw new AssertionError("descriptor lengths differ: " + from + " → " + to);
                }
                Region src = net.resolve(from.address(), from.length());
                Region dst = net.resolve(to.address(), to.length());
                byte[] data = new byte[(int) from.length()];
                src.buffer().copyToHost(src.offset(), data);
                dst.buffer().copyFromHost(dst.offset(), data);
            }
            landed = true;
            state = TransferState.DONE;
            if (notify && notification != null && notification.length > 0) {
                deliver(remote.peer, notification, true);
            }
        }

        /** Whether the engine was told DONE or an error at some point and may have finished with it. */
        TransferState state() {
            return state;
        }
    }
}
