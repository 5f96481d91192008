package dev.kvx.transceiver;

/**
 * Fault hooks on the real transport, for tests and the soak run: they make a peer silent, drop
 * messages or throw inside request handling. The default does nothing.
 */
public interface FaultInjector {
    /** No faults. */
    FaultInjector NONE = new FaultInjector() {};

    /** Called before the engine advances a request; may throw to simulate a bug in request handling. */
    default void beforeStep(long requestId, TransferPhase phase) {}

    /** Return true to drop an outgoing message instead of sending it (a silent or lossy peer). */
    default boolean dropOutgoing(WireMessage message) {
        return false;
    }

    /** Return true to hold back the data WRITE of a request (a context peer that never writes). */
    default boolean withholdWrite(long requestId) {
        return false;
    }
}
