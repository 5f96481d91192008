package dev.kvx.transceiver.internal.engine;

/**
 * What a duty-cycle loop does after a cycle (Agrona's {@code IdleStrategy}): nothing after a cycle that did
 * work, a growing back-off after cycles that did none.
 */
public interface IdleStrategy {
    /** Called after each cycle with the work it did. */
    void idle(int workCount);

    /** Forgets the back-off (after an outside event such as a wake-up). */
    void reset();
}
