package dev.kvx.transceiver;

/**
 * A request's state as the transceiver sees it. Reference equivalents: IN_TRANSFER ≈
 * DISAGG_CONTEXT_TRANS_IN_PROGRESS (21) / DISAGG_GENERATION_TRANS_IN_PROGRESS (9), COMPLETED ≈
 * DISAGG_CONTEXT_COMPLETE (22) / DISAGG_GENERATION_TRANS_COMPLETE (12), the three failures ≈
 * DISAGG_TRANS_ERROR (-1) — which kvx splits so that nothing is reported as a bare error.
 */
public enum RequestState {
    /** Created, blocks allocated, not submitted. */
    CREATED,
    /** Submitted to the engine. */
    IN_TRANSFER,
    /** Transfer completed. */
    COMPLETED,
    /** Deadline passed. */
    TIMED_OUT,
    /** Cancelled by either side. */
    CANCELLED,
    /** Failed with an error. */
    FAILED
}
