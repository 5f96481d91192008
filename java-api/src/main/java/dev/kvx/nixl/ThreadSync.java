package dev.kvx.nixl;

/** NIXL's agent locking mode ({@code nixl_capi_thread_sync_t}). */
public enum ThreadSync {
    /** No locks in NIXL; kvx serialises every call on an agent with its own lock. */
    NONE(0),
    /** One NIXL mutex around every call. */
    STRICT(1),
    /** Shared/exclusive locking inside NIXL. */
    RW(2);

    private final int code;

    ThreadSync(int code) {
        this.code = code;
    }

    int code() {
        return code;
    }
}
