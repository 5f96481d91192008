package dev.kvx.nixl;

/**
 * The status codes of NIXL's C API ({@code nixl_capi_status_t}). {@link #IN_PROGRESS} is a state, not
 * an error. NIXL's C API folds most C++ errors (remote disconnect, repost while active, metadata
 * mismatch …) into {@link #BACKEND}; only its log tells them apart.
 */
public enum NixlStatus {
    /** Done. */
    SUCCESS(0),
    /** Still running; poll again. */
    IN_PROGRESS(1),
    /** A NULL or invalid argument. */
    INVALID_PARAM(-1),
    /** Any backend or C++ error (see class comment). */
    BACKEND(-2),
    /** An object in the wrong state (e.g. destroying a transfer that was not released). */
    INVALID_STATE(-3),
    /** Declared by NIXL, never returned. */
    EXCEPTION(-4),
    /** Telemetry was not enabled. */
    NO_TELEMETRY(-5),
    /** Agent metadata not loaded or no backend serves the request (NIXL after 1.4). */
    NOT_FOUND(-6),
    /** A code this kvx version does not know; the raw value is kept in the exception. */
    UNKNOWN(Integer.MIN_VALUE);

    private final int code;

    NixlStatus(int code) {
        this.code = code;
    }

    /** NIXL's numeric value (for {@link #UNKNOWN}, a placeholder). */
    public int code() {
        return code;
    }

    /** Whether this status ends a transfer with an error. */
    public boolean isError() {
        return code < 0;
    }

    /** Maps a raw C API code. */
    public static NixlStatus of(int raw) {
        return switch (raw) {
            case 0 -> SUCCESS;
            case 1 -> IN_PROGRESS;
            case -1 -> INVALID_PARAM;
            case -2 -> BACKEND;
            case -3 -> INVALID_STATE;
            case -4 -> EXCEPTION;
            case -5 -> NO_TELEMETRY;
            case -6 -> NOT_FOUND;
            default -> UNKNOWN;
        };
    }
}
