package dev.kvx.transceiver;

/**
 * How one request's transfer ended. Every submitted request gets exactly one outcome.
 *
 * @param requestId the request
 * @param status how it ended
 * @param phase the phase it was in when it ended (DONE for COMPLETED)
 * @param detail a sentence for logs
 * @param nativeCode the raw NIXL status for a native failure, else 0
 * @param cause the exception behind a FAILED outcome, else null
 * @param latencyNanos submit-to-outcome time
 * @param quarantinedBlocks blocks held back because a transfer might still touch them
 */
public record TransferOutcome(long requestId, Status status, TransferPhase phase, String detail, int nativeCode,
                              Throwable cause, long latencyNanos, int quarantinedBlocks) {
    /** The four ways a transfer ends. */
    public enum Status {
        /** All blocks arrived (generation) or were written (context). */
        COMPLETED,
        /** kvTransferTimeout passed first. */
        TIMED_OUT,
        /** Cancelled by this side or by the peer. */
        CANCELLED,
        /** An error; see cause and nativeCode. */
        FAILED
    }

    /** Whether the transfer completed. */
    public boolean isCompleted() {
        return status == Status.COMPLETED;
    }
}
