package dev.kvx.nixl;

/** Where a transfer stands. Errors are not states: they are thrown as {@link NixlException}. */
public enum TransferState {
    /** Created, not posted yet. */
    PREPARED,
    /** Posted and still moving data. */
    IN_PROGRESS,
    /** All data is at the target (NIXL's success includes the remote flush). */
    DONE
}
