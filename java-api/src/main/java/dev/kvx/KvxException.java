package dev.kvx;

/**
 * Base of every exception kvx throws on purpose. Subclasses keep the native facts (raw status code,
 * the call that failed) so that callers can react to them and logs say what to do next.
 */
public class KvxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what failed and, where known, what to do about it */
    public KvxException(String message) {
        super(message);
    }

    /**
     * @param message what failed and, where known, what to do about it
     * @param cause the underlying failure
     */
    public KvxException(String message, Throwable cause) {
        super(message, cause);
    }
}
