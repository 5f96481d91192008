package dev.kvx.transceiver;

import java.time.Duration;

/**
 * Fault hooks on the real transport, for tests and the soak run: they make a peer silent, drop
 * messages, hold back or delay its data transfer, or throw inside request handling. The default does
 * nothing; production code never sets one.
 */
public interface FaultInjector {
    /** No faults. */
    FaultInjector NONE = new FaultInjector() {};

    /** The protocol messages a fault can drop. */
    enum Message {
        /** The announcer's blocks (push: generation → context; pull: context → generation). */
        ANNOUNCE,
        /** A side giving up. */
        ABORT,
        /** The mover's confirmation that nothing of an attempt can land any more. */
        RELEASED
    }

    /** Called before the engine advances a request; may throw to simulate a bug in request handling. */
    default void beforeStep(long requestId, TransferPhase phase) {}

    /** Return true to drop an outgoing message instead of sending it (a silent or lossy peer). */
    default boolean dropOutgoing(Message message, long requestId) {
        return false;
    }

    /** Return true to hold back the data transfer of a request forever (a mover that never moves). */
    default boolean withholdTransfer(long requestId) {
        return false;
    }

    /**
     * A delay before the mover posts the data transfer of a request, kept even if the attempt ends
     * meanwhile (a late or lying peer whose write lands after the other side gave up: the soak's
     * {@code late-write} fault). The transfer is posted when the delay is over, polled to its end, and only
     * then confirmed with Released. {@link Duration#ZERO} for none.
     */
    default Duration lateTransfer(long requestId) {
        return Duration.ZERO;
    }

    /**
     * Sees every message this side sends as a notification (session and handshake messages; not the Done
     * that travels with a transfer), framed and MAC'd, as an eavesdropper on the network would: kvx's
     * messages are authenticated, not encrypted. The soak's hostile peer replays and tampers with these.
     * Called on the engine thread; it must not block and must not keep {@code frame} past the call
     * without copying it.
     *
     * @param peer the agent the frame goes to
     * @param frame the frame's bytes
     */
    default void sent(String peer, byte[] frame) {}
}
