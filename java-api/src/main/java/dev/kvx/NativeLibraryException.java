package dev.kvx;

/**
 * A native library kvx needs (NIXL's C API, the CUDA runtime) could not be found or loaded. The message
 * lists every place kvx looked and why each did not match, or the file that was chosen, the setting that
 * chose it and why it did not load, and the command that installs it. Thrown at the first use of NIXL
 * ({@code NixlAgent.create}, {@code CacheTransceiver.Builder.build}); {@code kvx doctor} shows the same search.
 */
public final class NativeLibraryException extends KvxException {
    private static final long serialVersionUID = 1L;

    /** @param message what is missing and how to install it */
    public NativeLibraryException(String message) {
        super(message);
    }

    /**
     * @param message what is missing and how to install it
     * @param cause the loader's own error
     */
    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
