package dev.kvx.transceiver.internal.wire;

/** Message types of wire version 2 and how each is authenticated. */
public enum MessageType {
    /** Handshake 1/3. */
    HELLO(1, true),
    /** Handshake 2/3. */
    CHALLENGE(2, true),
    /** Handshake 3/3. */
    CONFIRM(3, false),
    /** Handshake refusal. */
    REFUSED(4, true),
    /** Blocks of an attempt. */
    ANNOUNCE(10, false),
    /** Data moved. */
    DONE(11, false),
    /** Gave up. */
    ABORT(12, false),
    /** Memory safe again. */
    RELEASED(13, false),
    /** Liveness. */
    PING(14, false);

    private static final MessageType[] BY_CODE = new MessageType[16];

    static {
        for (MessageType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;
    private final boolean handshakeKey;

    MessageType(int code, boolean handshakeKey) {
        this.code = code;
        this.handshakeKey = handshakeKey;
    }

    /** The type byte. */
    public int code() {
        return code;
    }

    /** Whether the MAC uses the handshake key (derived from the secret alone) rather than a session key. */
    public boolean usesHandshakeKey() {
        return handshakeKey;
    }

    /** The type of a code, or null. */
    public static MessageType of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
