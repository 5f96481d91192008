package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.PoolInfo;
import dev.kvx.transceiver.internal.wire.ReplayWindow;
import java.util.concurrent.CompletableFuture;

/**
 * One authenticated connection to a peer: agreed at connect by a three-message handshake over NIXL
 * notifications, in which both sides prove they hold the shared secret and derive this session's keys.
 * Every message of the session carries its id, a sequence number (replays are refused) and a MAC under
 * the direction's key. All per-request state is bound to a session: a message of one session can never
 * reach a request of another. Engine-confined.
 */
public final class Session {
    /** Where the session stands. */
    public enum State {
        /** Initiator: Hello sent, waiting for the Challenge. */
        HELLO_SENT,
        /** Acceptor: Challenge sent, waiting for the Confirm. */
        CHALLENGED,
        /** Serving. */
        ACTIVE,
        /** Serving requests it already has, but no new ones: it has not proven an abandoned transfer over in time. */
        UNHEALTHY,
        /** Its endpoint failed: the peer is unreachable (its process is gone or the link is down). */
        LOST,
        /** Closed by this side (eviction or close). */
        CLOSED
    }

    final long id;
    final String peerName;
    final boolean initiator;
    final byte[] localNonce;
    byte[] peerNonce;
    long peerInstance;
    PoolInfo peerPool;
    MacKey sendKey;
    MacKey recvKey;
    long nextSeq = 1;
    final ReplayWindow window = new ReplayWindow();
    State state;
    long stateSinceNanos;
    long createdNanos;
    String unhealthyReason;
    /** Prepared descriptor list of the peer's whole pool, made on first use. */
    AgentPort.Prepared remoteBlocks;
    CompletableFuture<String> connectFuture;
    // accounting of what is bound to this session (for liveness probes, health and eviction)
    int tasks;
    int quarantines;
    int abandoned;
    int pendingAnnounces;
    long pendingAnnounceBytes;
    int overdue;
    /** A send that failed since the last liveness pass: the peer table treats the peer as unreachable. */
    RuntimeException sendFailure;

    Session(long id, String peerName, boolean initiator, byte[] localNonce, State state, long now) {
        this.id = id;
        this.peerName = peerName;
        this.initiator = initiator;
        this.localNonce = localNonce;
        this.state = state;
        this.stateSinceNanos = now;
        this.createdNanos = now;
    }

    /** The session id on the wire. */
    public long id() {
        return id;
    }

    /** The peer's NIXL agent name, as authenticated by the handshake. */
    public String peerName() {
        return peerName;
    }

    /** Its state. */
    public State state() {
        return state;
    }

    boolean isLive() {
        return state == State.ACTIVE || state == State.UNHEALTHY;
    }

    boolean hasWork() {
        return tasks > 0 || quarantines > 0 || abandoned > 0;
    }

    boolean isIdle() {
        return tasks == 0 && quarantines == 0 && abandoned == 0 && pendingAnnounces == 0;
    }

    long takeSeq() {
        return nextSeq++;
    }

    @Override
    public String toString() {
        return "session " + Long.toHexString(id) + " with " + peerName + " (" + state + ")";
    }
}
