package dev.kvx.nixl;

/** Direction of a transfer, seen from the initiating agent. */
public enum TransferOp {
    /** Pull remote memory into local memory. */
    READ(0),
    /** Push local memory into remote memory. */
    WRITE(1);

    private final int code;

    TransferOp(int code) {
        this.code = code;
    }

    int code() {
        return code;
    }
}
