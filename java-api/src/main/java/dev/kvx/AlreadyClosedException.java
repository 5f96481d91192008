package dev.kvx;

/**
 * Thrown when an object whose native resources were released (an agent, a transfer, a buffer, a
 * registration) is used again. kvx never reads freed native memory: the handle is cleared under the
 * owner's lock before the memory goes, and every later use ends here instead.
 */
public final class AlreadyClosedException extends KvxException {
    private static final long serialVersionUID = 1L;

    /** @param message which object was closed and, where known, why */
    public AlreadyClosedException(String message) {
        super(message);
    }
}
