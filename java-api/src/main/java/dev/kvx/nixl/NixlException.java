package dev.kvx.nixl;

import dev.kvx.KvxException;

/**
 * A NIXL C API call failed. Keeps the raw status, the mapped {@link NixlStatus} and the name of the
 * call; the message adds the arguments and phase kvx knew, because NIXL's C API has no error text.
 */
public final class NixlException extends KvxException {
    private static final long serialVersionUID = 1L;
    private final int rawStatus;
    private final String call;

    NixlException(String call, int rawStatus, String detail) {
        super(call + " failed with " + NixlStatus.of(rawStatus) + " (" + rawStatus + ")"
                + (detail == null || detail.isEmpty() ? "" : ": " + detail)
                + (rawStatus == -2 ? ". NIXL folds most errors into -2; run with -Dkvx.nixl.logLevel=INFO"
                        + " (NIXL_LOG_LEVEL) to see its reason" : ""));
        this.rawStatus = rawStatus;
        this.call = call;
    }

    /** The mapped status. */
    public NixlStatus status() {
        return NixlStatus.of(rawStatus);
    }

    /** The raw {@code nixl_capi_status_t} value. */
    public int rawStatus() {
        return rawStatus;
    }

    /** The C function that failed, e.g. {@code nixl_capi_create_xfer_req}. */
    public String call() {
        return call;
    }
}
