package dev.kvx.transceiver.internal.wire;

import dev.kvx.KvxException;

/** A wire message that is not a valid kvx message: bad magic, version, type, length or field. */
public final class MalformedMessageException extends KvxException {
    private static final long serialVersionUID = 1L;

    /** @param reason what is wrong with it */
    public MalformedMessageException(String reason) {
        super(reason);
    }
}
