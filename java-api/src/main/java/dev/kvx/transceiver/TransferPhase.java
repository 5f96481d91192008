package dev.kvx.transceiver;

/** Where a request's transfer stood, reported with every non-completed outcome. */
public enum TransferPhase {
    /** Submitted, not yet looked at by the engine. */
    SUBMITTED,
    /** Context side: waiting for the generation side's request info. */
    WAITING_FOR_REQUEST_INFO,
    /** Waiting for a staging-buffer slot. */
    WAITING_FOR_BUFFER,
    /** Context side: the NIXL WRITE is in flight. */
    DATA_IN_FLIGHT,
    /** Generation side: request info sent, waiting for the data's completion notice. */
    WAITING_FOR_DATA,
    /** Finished. */
    DONE
}
