package dev.kvx.cuda;

import dev.kvx.KvxException;

/**
 * A CUDA runtime call failed. Keeps the raw {@code cudaError_t}, the runtime's own error name and
 * text ({@code cudaGetErrorName}/{@code cudaGetErrorString}) and the call.
 */
public final class CudaException extends KvxException {
    private static final long serialVersionUID = 1L;
    private final int code;
    private final String errorName;
    private final String call;

    CudaException(String call, int code, String errorName, String errorText, String detail) {
        super(call + " failed: " + errorName + " (" + code + "): " + errorText
                + (detail == null || detail.isEmpty() ? "" : " [" + detail + "]"));
        this.code = code;
        this.errorName = errorName;
        this.call = call;
    }

    /** The raw {@code cudaError_t}. */
    public int code() {
        return code;
    }

    /** The runtime's name for the error, e.g. {@code cudaErrorNoDevice}. */
    public String errorName() {
        return errorName;
    }

    /** The CUDA function that failed. */
    public String call() {
        return call;
    }
}
