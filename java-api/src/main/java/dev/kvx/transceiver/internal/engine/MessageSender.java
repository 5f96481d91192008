package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.FaultInjector;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;

/**
 * Puts messages on the wire (the engine's sender proxy): frames each in its session with the next
 * sequence number and the session's MAC, applies fault injection to request messages, and remembers a
 * failed send on the session so the peer table treats the peer as unreachable on its next pass.
 */
final class MessageSender {
    private static final System.Logger LOG = System.getLogger(MessageSender.class.getName());
    private final AgentPort port;
    private final FaultInjector faults;
    private final EngineCounters counters;
    private final MacKey handshakeKey;

    MessageSender(AgentPort port, FaultInjector faults, EngineCounters counters, MacKey handshakeKey) {
        this.port = port;
        this.faults = faults;
        this.counters = counters;
        this.handshakeKey = handshakeKey;
    }

    /** Sends a session message; throws if NIXL cannot send it (the peer's endpoint failed). */
    void send(Session s, WireMessage m) {
        FaultInjector.Message kind = switch (m) {
            case WireMessage.Announce a -> FaultInjector.Message.ANNOUNCE;
            case WireMessage.Abort a -> FaultInjector.Message.ABORT;
            case WireMessage.Released r -> FaultInjector.Message.RELEASED;
            default -> null;
        };
        if (kind != null && faults.dropOutgoing(kind, m.requestId())) {
            counters.droppedByFault.incrementAndGet();
            return;
        }
        byte[] frame = WireCodec.encode(m, s.id, s.takeSeq(), s.sendKey);
        port.sendNotification(s.peerName, frame);
        faults.sent(s.peerName, frame); // only once it left
    }

    /** Sends a session message; a failure is noted on the session instead of thrown. */
    boolean sendQuietly(Session s, WireMessage m) {
        if (!s.isLive() && s.state != Session.State.CHALLENGED && s.state != Session.State.HELLO_SENT) {
            return false;
        }
        try {
            send(s, m);
            return true;
        } catch (RuntimeException e) {
            s.sendFailure = e;
            LOG.log(System.Logger.Level.DEBUG, () -> "could not send " + m + " in " + s, e);
            return false;
        }
    }

    /** The bytes of a message that travels attached to a transfer (Done), framed in its session. */
    byte[] encodeAttached(Session s, WireMessage m) {
        return WireCodec.encode(m, s.id, s.takeSeq(), s.sendKey); // not shown to faults.sent: it leaves only if the transfer posts
    }

    /** Sends a handshake message, MAC'd with the handshake key. */
    void sendHandshake(String peer, long sessionId, WireMessage m) {
        byte[] frame = WireCodec.encode(m, sessionId, 0, handshakeKey);
        port.sendNotification(peer, frame);
        faults.sent(peer, frame);
    }
}
