package dev.kvx.transceiver.internal.engine;

import dev.kvx.KvxException;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.PoolInfo;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.ToIntFunction;

/**
 * The peers: sessions by id and by peer name, the handshake that creates them, their liveness and
 * health, and the caps on how many there are.
 *
 * <p>Handshake (over NIXL notifications, after the two agents loaded each other's metadata): the
 * initiator sends {@code Hello(nonceI)}; the acceptor answers {@code Challenge(nonceI, nonceA)}; both
 * are MAC'd with a key derived from the shared secret, so each side knows the other holds it, and the
 * echoed nonce makes the answer fresh. Both derive the session keys from the secret and both nonces; the
 * initiator's {@code Confirm} (MAC'd with the new key) proves it is live, and only then does the acceptor
 * accept the session's messages. A replayed Hello gets a Challenge nobody can answer.
 *
 * <p>Liveness: every {@code peerCheckInterval} a Ping goes to each peer that has work in flight here; a
 * failed send means its endpoint failed. Then the peer is <b>lost</b>: this side drops its own endpoint
 * to it (so nothing more can arrive over it), and its requests, quarantines and pending announcements
 * end (the listener does that). Engine-confined.
 */
final class PeerTable {
    private static final System.Logger LOG = System.getLogger(PeerTable.class.getName());

    /** What the engine does when a session changes. */
    interface Listener {
        /** The session's peer is unreachable: end everything bound to it. */
        void sessionLost(Session s, RuntimeException cause);

        /**
         * An authentic Hello from an agent whose metadata is not loaded here: return true if its metadata
         * will be looked up (in etcd) and the Hello handed to {@link #onHello} again once it is loaded.
         */
        default boolean unknownAgent(String from, long sid, WireMessage.Hello h) {
            return false;
        }

        /**
         * An authentic Hello from a loaded agent whose instance no session here knows (a first connection,
         * or the agent restarted under the same name): return true if its metadata will be looked up again
         * (in etcd) and the Hello handed to {@link #onHelloResolved} once it is loaded.
         */
        default boolean unknownIncarnation(String from, long sid, WireMessage.Hello h) {
            return false;
        }
    }

    private final AgentPort port;
    private final MessageSender sender;
    private final EngineCounters counters;
    private final CacheTransceiverConfig config;
    private final SharedSecret secret;
    private final PoolInfo localPool;
    private final String localName;
    private final long instance;
    private final Listener listener;
    private final ToIntFunction<String> waitersFor;
    private final SecureRandom random = new SecureRandom();
    private final Map<Long, Session> byId = new HashMap<>();
    private final Map<String, Session> newestByName = new HashMap<>();
    private final List<Session> all = new ArrayList<>(); // every session in byId, for allocation-free passes
    private final Set<String> loggedUnknown = new HashSet<>();
    private long nextCheckNanos;
    private boolean checked; // nextCheckNanos is set (0 is a time like any other: clocks may be negative)
    private int pendingHandshakes;
    /** Names with a live session, for other threads (replaced on every change). */
    private volatile Set<String> liveNames = Set.of();

    PeerTable(AgentPort port, MessageSender sender, EngineCounters counters, CacheTransceiverConfig config, SharedSecret secret,
              PoolInfo localPool, String localName, long instance, Listener listener, ToIntFunction<String> waitersFor) {
        this.port = port;
        this.sender = sender;
        this.counters = counters;
        this.config = config;
        this.secret = secret;
        this.localPool = localPool;
        this.localName = localName;
        this.instance = instance;
        this.listener = listener;
        this.waitersFor = waitersFor;
    }

    /** Whether a live session with that peer exists (any thread). */
    boolean isConnected(String peer) {
        return liveNames.contains(peer);
    }

    private void publishNames() {
        Set<String> names = new HashSet<>();
        for (Session s : all) {
            if (s.isLive()) {
                names.add(s.peerName);
            }
        }
        liveNames = Set.copyOf(names);
    }

    /** Whether any session (live, or a handshake under way) exists with that peer. */
    boolean hasSession(String peerName) {
        for (Session s : all) {
            if (s.peerName.equals(peerName)) {
                return true;
            }
        }
        return false;
    }

    Session byId(long id) {
        return byId.get(id);
    }

    /** The newest live session with that peer, or null. */
    Session newest(String peerName) {
        return newestByName.get(peerName);
    }

    List<Session> sessions() {
        return all;
    }

    int liveCount() {
        int n = 0;
        for (Session s : all) {
            n += s.isLive() ? 1 : 0;
        }
        return n;
    }

    int unhealthyCount() {
        int n = 0;
        for (Session s : all) {
            n += s.state == Session.State.UNHEALTHY ? 1 : 0;
        }
        return n;
    }

    // ---------------------------------------------------------------- handshake

    /** Starts a handshake with a peer whose metadata is loaded; the future completes with its name when the session is up. */
    void connect(String peerName, CompletableFuture<String> future, long now) {
        if (pendingHandshakes >= config.limits().maxPendingHandshakes()) {
            future.completeExceptionally(new KvxException("too many handshakes under way (" + pendingHandshakes + ")"));
            return;
        }
        Session s = new Session(newSessionId(), peerName, true, nonce(), Session.State.HELLO_SENT, now);
        s.connectFuture = future;
        put(s);
        pendingHandshakes++;
        try {
            sender.sendHandshake(peerName, s.id, new WireMessage.Hello(s.localNonce, instance, localName, localPool));
        } catch (RuntimeException e) {
            remove(s);
            future.completeExceptionally(new KvxException("could not send the handshake to peer '" + peerName + "': "
                    + e.getMessage(), e));
        }
    }

    void onHello(String from, long sid, WireMessage.Hello h, long now) {
        onHello(from, sid, h, now, false);
    }

    /** A Hello whose sender's metadata was just looked up and loaded. */
    void onHelloResolved(String from, long sid, WireMessage.Hello h, long now) {
        onHello(from, sid, h, now, true);
    }

    private void onHello(String from, long sid, WireMessage.Hello h, long now, boolean resolved) {
        if (!h.name().equals(from)) {
            refuse("a Hello that names '" + h.name() + "' arrived from agent '" + from + "'");
            return;
        }
        if (byId.containsKey(sid)) {
            refuse("a Hello for session " + Long.toHexString(sid) + ", which exists"); // a replay or a collision
            return;
        }
        if (!port.hasRemote(from)) {
            if (listener.unknownAgent(from, sid, h)) {
                return; // its metadata is being looked up; this Hello comes back then
            }
            counters.refusedHandshakes.incrementAndGet();
            if (loggedUnknown.size() < 1000 && loggedUnknown.add(from)) {
                LOG.log(System.Logger.Level.WARNING, "kvx " + localName + ": handshake from agent '" + from + "', whose metadata "
                        + "was not admitted here; it cannot be answered (admit its metadata, or connect through the control channel)");
            }
            return;
        }
        if (!resolved && !knowsIncarnation(from, h.instance()) && listener.unknownIncarnation(from, sid, h)) {
            return; // its metadata is read again; this Hello comes back then
        }
        List<String> diff = localPool.differences(h.pool());
        if (!diff.isEmpty()) {
            refuseTo(from, sid, "incompatible peers: " + String.join("; ", diff));
            return;
        }
        if (pendingHandshakes >= config.limits().maxPendingHandshakes()) {
            counters.refusedPeerCap.incrementAndGet();
            refuseTo(from, sid, "too many handshakes under way at " + localName);
            return;
        }
        if (byId.size() >= config.limits().maxPeers() && !evictIdle()) {
            counters.refusedPeerCap.incrementAndGet();
            refuseTo(from, sid, localName + " is at its peer limit (" + config.limits().maxPeers() + ") with no idle peer to evict");
            return;
        }
        Session s = new Session(sid, from, false, nonce(), Session.State.CHALLENGED, now);
        s.peerNonce = h.nonce();
        s.peerInstance = h.instance();
        s.peerPool = h.pool();
        deriveKeys(s, h.nonce(), s.localNonce);
        put(s);
        pendingHandshakes++;
        try {
            sender.sendHandshake(from, sid, new WireMessage.Challenge(h.nonce(), s.localNonce, instance, localName, localPool));
        } catch (RuntimeException e) {
            remove(s);
        }
    }

    /** Whether a session here already knows that instance of the peer (so it did not restart since). */
    private boolean knowsIncarnation(String peer, long instance) {
        for (Session s : all) {
            if (s.peerName.equals(peer) && s.peerInstance == instance) {
                return true;
            }
        }
        return false;
    }

    void onChallenge(String from, long sid, WireMessage.Challenge c, long now) {
        Session s = byId.get(sid);
        if (s == null || !s.initiator || s.state != Session.State.HELLO_SENT) {
            refuse("a Challenge for no handshake of ours (session " + Long.toHexString(sid) + ")");
            return;
        }
        if (!MacKey.equal(c.initiatorNonce(), s.localNonce) || !c.name().equals(s.peerName) || !from.equals(s.peerName)) {
            refuse("a Challenge that does not answer our Hello to '" + s.peerName + "' (from '" + from + "')");
            return;
        }
        List<String> diff = localPool.differences(c.pool());
        if (!diff.isEmpty()) {
            fail(s, "peer '" + s.peerName + "' is incompatible: " + String.join("; ", diff));
            return;
        }
        s.peerNonce = c.nonce();
        s.peerInstance = c.instance();
        s.peerPool = c.pool();
        deriveKeys(s, s.localNonce, c.nonce());
        pendingHandshakes--;
        activate(s, now);
        sender.sendQuietly(s, new WireMessage.Confirm());
        counters.handshakes.incrementAndGet();
        s.connectFuture.complete(s.peerName);
        s.connectFuture = null;
    }

    /** The Confirm arrived (its MAC and sequence number were checked under the session's key). */
    void onConfirm(Session s, long now) {
        if (s.initiator || s.state != Session.State.CHALLENGED) {
            counters.staleMessages.incrementAndGet();
            return;
        }
        pendingHandshakes--;
        activate(s, now);
        counters.handshakes.incrementAndGet();
        LOG.log(System.Logger.Level.DEBUG, () -> "kvx " + localName + ": accepted " + s);
    }

    void onRefused(String from, long sid, WireMessage.Refused r) {
        Session s = byId.get(sid);
        if (s == null || !s.initiator || s.state != Session.State.HELLO_SENT || !from.equals(s.peerName)) {
            counters.staleMessages.incrementAndGet();
            return;
        }
        fail(s, "peer '" + s.peerName + "' refused the connection: " + r.reason());
    }

    private void activate(Session s, long now) {
        s.state = Session.State.ACTIVE;
        s.stateSinceNanos = now;
        newestByName.put(s.peerName, s);
        publishNames();
    }

    private void fail(Session s, String why) {
        pendingHandshakes--;
        remove(s);
        counters.refusedHandshakes.incrementAndGet();
        if (s.connectFuture != null) {
            s.connectFuture.completeExceptionally(new KvxException(why));
        }
    }

    private void refuse(String what) {
        counters.refusedHandshakes.incrementAndGet();
        LOG.log(System.Logger.Level.DEBUG, () -> "kvx " + localName + ": dropped " + what);
    }

    private void refuseTo(String peer, long sid, String reason) {
        counters.refusedHandshakes.incrementAndGet();
        try {
            sender.sendHandshake(peer, sid, new WireMessage.Refused(reason));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not send a refusal to " + peer, e);
        }
    }

    private void deriveKeys(Session s, byte[] nonceI, byte[] nonceA) {
        byte[] sid = ByteBuffer.allocate(8).putLong(s.id).array();
        byte[] k = secret.derive("kvx/2 session", sid, nonceI, nonceA);
        MacKey i2a = new MacKey(MacKey.derive(k, "initiator to acceptor".getBytes(StandardCharsets.US_ASCII)));
        MacKey a2i = new MacKey(MacKey.derive(k, "acceptor to initiator".getBytes(StandardCharsets.US_ASCII)));
        s.sendKey = s.initiator ? i2a : a2i;
        s.recvKey = s.initiator ? a2i : i2a;
    }

    private boolean evictIdle() {
        Session oldest = null;
        for (Session s : all) {
            if (s.state == Session.State.ACTIVE && s.isIdle() && waitersFor.applyAsInt(s.peerName) == 0
                    && (oldest == null || s.stateSinceNanos < oldest.stateSinceNanos)) {
                oldest = s;
            }
        }
        if (oldest == null) {
            return false;
        }
        close(oldest, "evicted to admit a new peer");
        counters.peersEvicted.incrementAndGet();
        return true;
    }

    // ---------------------------------------------------------------- liveness and health

    /**
     * Every {@code peerCheckInterval}: probes peers with work here, acts on failed sends, times out
     * handshakes.
     *
     * @return work done
     */
    int tick(long now) {
        if (all.isEmpty() || (checked && now - nextCheckNanos < 0)) {
            return 0;
        }
        checked = true;
        nextCheckNanos = now + CacheTransceiverConfig.nanos(config.peerCheckInterval());
        long handshakeTimeout = CacheTransceiverConfig.nanos(config.handshakeTimeout());
        List<Session> expired = null;
        Map<String, RuntimeException> lost = null;
        for (int i = 0; i < all.size(); i++) {
            Session s = all.get(i);
            if ((s.state == Session.State.HELLO_SENT || s.state == Session.State.CHALLENGED) && now - s.createdNanos >= handshakeTimeout) {
                (expired == null ? expired = new ArrayList<>() : expired).add(s);
                continue;
            }
            if (!s.isLive()) {
                continue;
            }
            RuntimeException failure = s.sendFailure;
            if (failure == null && (s.hasWork() || waitersFor.applyAsInt(s.peerName) > 0)) {
                try {
                    sender.send(s, new WireMessage.Ping());
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            if (failure != null) {
                (lost == null ? lost = new HashMap<>() : lost).putIfAbsent(s.peerName, failure);
            }
        }
        int work = 0;
        if (expired != null) {
            for (Session s : expired) {
                if (s.initiator) {
                    fail(s, "peer '" + s.peerName + "' did not answer the handshake within " + config.handshakeTimeout()
                            + " (is it running kvx with the same secret, and did it admit this side's metadata?)");
                } else {
                    pendingHandshakes--;
                    remove(s);
                }
                work++;
            }
        }
        if (lost != null) {
            lost.forEach(this::lostPeer);
            work += lost.size();
        }
        return work;
    }

    /**
     * The peer's endpoint failed. This side drops its own endpoint to it, so nothing more arrives over
     * that connection, and ends every session with that peer name.
     */
    void lostPeer(String peerName, RuntimeException cause) {
        try {
            port.invalidateRemote(peerName);
        } catch (RuntimeException e) {
            // NIXL already invalidated it after the endpoint error
        }
        for (Session s : List.copyOf(all)) {
            if (s.peerName.equals(peerName) && s.isLive()) {
                s.state = Session.State.LOST;
                counters.peersLost.incrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "kvx " + localName + ": peer " + peerName + " is unreachable ("
                        + cause.getMessage() + "); " + s + " ends");
                listener.sessionLost(s, cause);
                remove(s);
            }
        }
    }

    /** Marks sessions with overdue proofs unhealthy, and those without healthy again (after a sweep). */
    void updateHealth(long now) {
        for (int i = 0; i < all.size(); i++) {
            Session s = all.get(i);
            if (s.state == Session.State.ACTIVE && s.overdue > 0) {
                s.state = Session.State.UNHEALTHY;
                s.stateSinceNanos = now;
                s.unhealthyReason = s.overdue + " transfer(s) not proven over within " + config.quarantineTimeout()
                        + " (quarantined: " + s.quarantines + ", abandoned here: " + s.abandoned + ")";
                counters.peersMarkedUnhealthy.incrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "kvx " + localName + ": peer " + s.peerName + " is unhealthy: "
                        + s.unhealthyReason + "; it gets no new work until it proves them over or goes away");
            } else if (s.state == Session.State.UNHEALTHY && s.overdue == 0) {
                s.state = Session.State.ACTIVE;
                s.stateSinceNanos = now;
                LOG.log(System.Logger.Level.INFO, "kvx " + localName + ": peer " + s.peerName + " is healthy again");
            }
        }
    }

    /** Closes a session from this side (eviction or transceiver close). */
    void close(Session s, String why) {
        s.state = Session.State.CLOSED;
        remove(s);
        boolean nameStillUsed = false;
        for (Session o : all) {
            nameStillUsed |= o.peerName.equals(s.peerName);
        }
        if (!nameStillUsed) {
            try {
                port.invalidateRemote(s.peerName);
            } catch (RuntimeException e) {
                // already gone
            }
        }
        LOG.log(System.Logger.Level.DEBUG, () -> "kvx " + localName + ": closed " + s + ": " + why);
    }

    /** Fails the handshakes under way (transceiver close). */
    void closeAll(String why) {
        for (Session s : List.copyOf(all)) {
            if (s.connectFuture != null) {
                s.connectFuture.completeExceptionally(new KvxException(why));
            }
            s.state = Session.State.CLOSED;
            remove(s);
        }
        pendingHandshakes = 0;
    }

    private void put(Session s) {
        byId.put(s.id, s);
        all.add(s);
    }

    private void remove(Session s) {
        byId.remove(s.id, s);
        all.remove(s);
        if (newestByName.get(s.peerName) == s) {
            newestByName.remove(s.peerName);
            for (Session o : all) {
                if (o.peerName.equals(s.peerName) && o.isLive()
                        && (newestByName.get(o.peerName) == null || o.stateSinceNanos > newestByName.get(o.peerName).stateSinceNanos)) {
                    newestByName.put(o.peerName, o);
                }
            }
        }
        if (s.state != Session.State.HELLO_SENT && s.state != Session.State.CHALLENGED) {
            publishNames();
        }
        if (s.remoteBlocks != null) {
            try {
                s.remoteBlocks.close();
            } catch (RuntimeException e) {
                // the agent may be gone
            }
            s.remoteBlocks = null;
        }
    }

    private long newSessionId() {
        long id;
        do {
            id = random.nextLong();
        } while (id == 0 || byId.containsKey(id));
        return id;
    }

    private byte[] nonce() {
        byte[] n = new byte[16];
        random.nextBytes(n);
        return n;
    }
}
