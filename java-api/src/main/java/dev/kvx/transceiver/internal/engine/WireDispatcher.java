package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.MalformedMessageException;
import dev.kvx.transceiver.internal.wire.MessageType;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.util.HashSet;
import java.util.Set;

/**
 * Takes every notification NIXL delivered and decides, in this order, before anything touches a
 * request: is it kvx's (else ignored), is its header valid (else counted as malformed), is its MAC
 * valid under the key of the session it names (else refused), is its sequence number fresh (else a
 * replay), does it come from the agent the session belongs to. Only then does it reach the peer table
 * (handshake) or the request state machine. The sender name NIXL reports is the sender's claim and is
 * never trusted on its own. One bad message costs only itself. Engine-confined.
 */
final class WireDispatcher implements AgentPort.Sink {
    private static final System.Logger LOG = System.getLogger(WireDispatcher.class.getName());
    private static final int MAX_LOGGED_SENDERS = 1000;
    private final String name;
    private final PeerTable peers;
    private final RequestStateMachine requests;
    private final EngineCounters counters;
    private final MacKey handshakeKey;
    private final Set<String> loggedSenders = new HashSet<>();
    private long now;

    WireDispatcher(String name, PeerTable peers, RequestStateMachine requests, EngineCounters counters, MacKey handshakeKey) {
        this.name = name;
        this.peers = peers;
        this.requests = requests;
        this.counters = counters;
        this.handshakeKey = handshakeKey;
    }

    void at(long nowNanos) {
        this.now = nowNanos;
    }

    /** A sender name no kvx peer can have (longer than a handshake may carry), cut short for logs and log-once keys. */
    private static String bounded(String sender) {
        return sender.length() <= WireCodec.MAX_NAME ? sender
                : sender.substring(0, 64) + "... (a name of " + sender.length() + " characters)";
    }

    @Override
    public void oversized(String sender, long length) {
        sender = bounded(sender);
        counters.refusedOversize.incrementAndGet();
        logOnce(sender, "dropped a notification of " + length + " B from '" + sender + "' without copying it (over maxMessageBytes)");
    }

    @Override
    public void message(String sender, byte[] bytes) {
        sender = bounded(sender); // matches no session's peer (names are at most MAX_NAME): refused like any stranger
        try {
            dispatch(sender, bytes);
        } catch (MalformedMessageException e) {
            counters.malformedMessages.incrementAndGet();
            logOnce(sender, "dropped a malformed message from '" + sender + "': " + e.getMessage());
        } catch (Throwable t) {
            counters.engineErrors.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": handling a message from '" + sender + "' failed", t);
        }
    }

    private void dispatch(String sender, byte[] bytes) {
        if (!WireCodec.looksLikeKvx(bytes)) {
            counters.foreignMessages.incrementAndGet();
            return;
        }
        MessageType type = WireCodec.checkHeader(bytes);
        long sid = WireCodec.sessionIdOf(bytes);
        if (type.usesHandshakeKey()) {
            if (!WireCodec.macValid(bytes, handshakeKey)) {
                counters.refusedAuth.incrementAndGet();
                logOnce(sender, "refused a " + type + " from '" + sender + "' whose MAC does not verify (another secret?)");
                return;
            }
            WireCodec.Frame f = WireCodec.decode(bytes);
            switch (f.message()) {
                case WireMessage.Hello h -> peers.onHello(sender, sid, h, now);
                case WireMessage.Challenge c -> peers.onChallenge(sender, sid, c, now);
                case WireMessage.Refused r -> peers.onRefused(sender, sid, r);
                default -> counters.malformedMessages.incrementAndGet();
            }
            return;
        }
        Session s = peers.byId(sid);
        if (s == null) {
            counters.refusedUnknownSession.incrementAndGet();
            return;
        }
        if (!WireCodec.macValid(bytes, s.recvKey)) {
            counters.refusedAuth.incrementAndGet();
            logOnce(sender, "refused a " + type + " for " + s + " from '" + sender + "' whose MAC does not verify");
            return;
        }
        WireCodec.Frame f = WireCodec.decode(bytes);
        if (!s.window.accept(f.seq())) {
            counters.refusedReplay.incrementAndGet();
            return;
        }
        if (!sender.equals(s.peerName)) {
            counters.refusedAuth.incrementAndGet();
            return;
        }
        if (s.state == Session.State.CHALLENGED) {
            if (f.message() instanceof WireMessage.Confirm) {
                peers.onConfirm(s, now);
            } else {
                counters.staleMessages.incrementAndGet();
            }
            return;
        }
        if (!s.isLive()) {
            counters.staleMessages.incrementAndGet();
            return;
        }
        switch (f.message()) {
            case WireMessage.Announce a -> requests.onAnnounce(s, a, bytes.length, now);
            case WireMessage.Done d -> requests.onDone(s, d, now);
            case WireMessage.Abort a -> requests.onAbort(s, a, now);
            case WireMessage.Released r -> requests.onReleased(s, r);
            case WireMessage.Ping p -> { } // its arrival is all it says
            default -> counters.staleMessages.incrementAndGet();
        }
    }

    private void logOnce(String sender, String what) {
        if (loggedSenders.size() < MAX_LOGGED_SENDERS && loggedSenders.add(sender)) {
            LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": " + what + " (further ones from this sender are only counted)");
        }
    }
}
