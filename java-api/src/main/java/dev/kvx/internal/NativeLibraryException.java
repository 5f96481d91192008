package dev.kvx.internal;

import dev.kvx.KvxException;

/**
 * A native library kvx needs could not be found or loaded. The message names the file that was
 * looked for, the setting that chose it, and the command that installs it.
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
