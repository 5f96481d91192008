package dev.kvx.transceiver.internal.wire;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Frames of wire version 2 (little endian):
 * <pre>
 *  0  'K' 'V' 'X'    magic
 *  3  version (2)
 *  4  type            {@link MessageType}
 *  5  flags (bit 0 of an Abort: sent by the mover), reserved (2 B, 0)
 *  8  session id      (handshake messages: the proposed session)
 * 16  sequence number per session and direction, from 1
 * 24  request id      (0 for connection messages)
 * 32  epoch           (0 for connection messages)
 * 36  payload length
 * 40  payload
 * 40+n MAC: the first 16 bytes of HMAC-SHA256 over bytes [0, 40+n)
 * </pre>
 * Decoding checks every length against the bytes present and every field's range before anything is
 * allocated from it, and throws {@link MalformedMessageException}, never anything else. Decoding does
 * not check the MAC: the caller picks the key by session and checks it first ({@link #macValid}).
 */
public final class WireCodec {
    /** Wire version this code speaks. */
    public static final byte VERSION = 2;
    /** Header bytes before the payload. */
    public static final int HEADER = 40;
    /** Frame bytes besides the payload. */
    public static final int OVERHEAD = HEADER + MacKey.TAG;
    /** The most blocks one announcement may carry. */
    public static final int MAX_BLOCKS = 1 << 16;
    /** The longest agent name a handshake may carry, in UTF-8 bytes. */
    public static final int MAX_NAME = 256;
    /** The longest refusal reason, in UTF-8 bytes. */
    public static final int MAX_REASON = 1024;
    /** The largest frame this version can produce (an announcement of {@link #MAX_BLOCKS} blocks). */
    public static final int MAX_FRAME = OVERHEAD + 9 + 4 * MAX_BLOCKS;

    /** Header flag of an Abort: the sender is the attempt's mover (else its announcer). */
    static final byte FLAG_FROM_MOVER = 1;

    private WireCodec() {}

    private static byte flags(WireMessage m) {
        return m instanceof WireMessage.Abort a && a.fromMover() ? FLAG_FROM_MOVER : 0;
    }

    /** A decoded frame: who it is for and what it says. */
    public record Frame(MessageType type, long sessionId, long seq, WireMessage message) {}

    /** Serialises and signs a message. */
    public static byte[] encode(WireMessage m, long sessionId, long seq, MacKey key) {
        byte[] name = null;
        byte[] reason = null;
        int payload = switch (m) {
            case WireMessage.Hello h -> {
                name = h.name().getBytes(StandardCharsets.UTF_8);
                yield 16 + 8 + PoolInfo.BYTES + 2 + name.length;
            }
            case WireMessage.Challenge c -> {
                name = c.name().getBytes(StandardCharsets.UTF_8);
                yield 16 + 16 + 8 + PoolInfo.BYTES + 2 + name.length;
            }
            case WireMessage.Refused r -> {
                reason = r.reason().getBytes(StandardCharsets.UTF_8);
                if (reason.length > MAX_REASON) {
                    reason = java.util.Arrays.copyOf(reason, MAX_REASON);
                }
                yield 2 + reason.length;
            }
            case WireMessage.Announce a -> 4 + 1 + 4 + 4 * a.blockCount();
            case WireMessage.Abort a -> 4;
            case WireMessage.Confirm c -> 0;
            case WireMessage.Done d -> 0;
            case WireMessage.Released r -> 0;
            case WireMessage.Ping p -> 0;
        };
        if (name != null && (name.length == 0 || name.length > MAX_NAME)) {
            throw new IllegalArgumentException("agent name of " + name.length + " B (1.." + MAX_NAME + " allowed)");
        }
        byte[] out = new byte[HEADER + payload + MacKey.TAG];
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'K').put((byte) 'V').put((byte) 'X').put(VERSION).put((byte) m.type().code()).put(flags(m)).putShort((short) 0)
                .putLong(sessionId).putLong(seq).putLong(m.requestId()).putInt(m.epoch()).putInt(payload);
        switch (m) {
            case WireMessage.Hello h -> {
                b.put(h.nonce());
                b.putLong(h.instance());
                putPool(b, h.pool());
                b.putShort((short) name.length).put(name);
            }
            case WireMessage.Challenge c -> {
                b.put(c.initiatorNonce()).put(c.nonce());
                b.putLong(c.instance());
                putPool(b, c.pool());
                b.putShort((short) name.length).put(name);
            }
            case WireMessage.Refused r -> b.putShort((short) reason.length).put(reason);
            case WireMessage.Announce a -> {
                b.putInt(a.bufferIndex()).put((byte) (a.pull() ? 1 : 0)).putInt(a.blockCount());
                for (int i = 0; i < a.blockCount(); i++) {
                    b.putInt(a.blockId(i));
                }
            }
            case WireMessage.Abort a -> b.putInt(a.reason());
            default -> { }
        }
        key.sign(out, HEADER + payload);
        return out;
    }

    /** Whether the bytes start like a kvx message (other traffic on the agent is ignored, not counted). */
    public static boolean looksLikeKvx(byte[] bytes) {
        return bytes.length >= 3 && bytes[0] == 'K' && bytes[1] == 'V' && bytes[2] == 'X';
    }

    /**
     * Checks a frame's header (magic, version, type, flags, lengths) without reading its payload, so
     * that a frame can be authenticated before anything is allocated from it.
     *
     * @return the message type
     * @throws MalformedMessageException if the header is not valid
     */
    public static MessageType checkHeader(byte[] bytes) {
        if (bytes.length < OVERHEAD) {
            throw new MalformedMessageException("frame of " + bytes.length + " B is shorter than the " + OVERHEAD + " B header and MAC");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (b.get(0) != 'K' || b.get(1) != 'V' || b.get(2) != 'X') {
            throw new MalformedMessageException("bad magic (not a kvx message)");
        }
        if (b.get(3) != VERSION) {
            throw new MalformedMessageException("wire version " + b.get(3) + ", this kvx speaks " + VERSION);
        }
        MessageType type = MessageType.of(b.get(4) & 0xff);
        if (type == null) {
            throw new MalformedMessageException("unknown message type " + (b.get(4) & 0xff));
        }
        int payload = b.getInt(36);
        if (payload != bytes.length - OVERHEAD) {
            throw new MalformedMessageException("payload length " + payload + " but " + (bytes.length - OVERHEAD) + " B follow");
        }
        return type;
    }

    /** The session id of a frame whose header was validated by {@link #checkHeader}. */
    public static long sessionIdOf(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
    }

    /** Whether the frame's MAC verifies under {@code key}. */
    public static boolean macValid(byte[] bytes, MacKey key) {
        return bytes.length >= OVERHEAD && key.verify(bytes, bytes.length - MacKey.TAG);
    }

    /**
     * Parses a frame (without checking its MAC).
     *
     * @throws MalformedMessageException for anything that is not a valid frame of this version
     */
    public static Frame decode(byte[] bytes) {
        if (bytes == null || bytes.length < OVERHEAD) {
            throw new MalformedMessageException("frame of " + (bytes == null ? 0 : bytes.length) + " B is shorter than the "
                    + OVERHEAD + " B header and MAC");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, bytes.length - MacKey.TAG).order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (b.get() != 'K' || b.get() != 'V' || b.get() != 'X') {
                throw new MalformedMessageException("bad magic (not a kvx message)");
            }
            byte version = b.get();
            if (version != VERSION) {
                throw new MalformedMessageException("wire version " + version + ", this kvx speaks " + VERSION);
            }
            int code = b.get() & 0xff;
            MessageType type = MessageType.of(code);
            if (type == null) {
                throw new MalformedMessageException("unknown message type " + code);
            }
            byte flags = b.get();
            if ((flags & ~FLAG_FROM_MOVER) != 0 || (flags != 0 && type != MessageType.ABORT) || b.getShort() != 0) {
                throw new MalformedMessageException("reserved header bits are not 0 (flags " + flags + ")");
            }
            long session = b.getLong();
            long seq = b.getLong();
            long id = b.getLong();
            int epoch = b.getInt();
            int payload = b.getInt();
            if (payload != b.remaining()) {
                throw new MalformedMessageException("payload length " + payload + " but " + b.remaining() + " B follow");
            }
            boolean connection = type.ordinal() < MessageType.ANNOUNCE.ordinal() || type == MessageType.PING;
            if (connection && (id != 0 || epoch != 0)) {
                throw new MalformedMessageException(type + " with request id " + id + ", epoch " + epoch + " (both must be 0)");
            }
            if (session == 0) {
                throw new MalformedMessageException("session id 0");
            }
            WireMessage m = switch (type) {
                case HELLO -> {
                    byte[] nonce = bytes(b, 16);
                    long instance = b.getLong();
                    PoolInfo pool = getPool(b);
                    yield new WireMessage.Hello(nonce, instance, name(b), pool);
                }
                case CHALLENGE -> {
                    byte[] init = bytes(b, 16);
                    byte[] nonce = bytes(b, 16);
                    long instance = b.getLong();
                    PoolInfo pool = getPool(b);
                    yield new WireMessage.Challenge(init, nonce, instance, name(b), pool);
                }
                case CONFIRM -> new WireMessage.Confirm();
                case REFUSED -> {
                    int n = b.getShort() & 0xffff;
                    if (n > MAX_REASON || n != b.remaining()) {
                        throw new MalformedMessageException("refusal reason of " + n + " B in " + b.remaining() + " B");
                    }
                    yield new WireMessage.Refused(utf8(b, n));
                }
                case ANNOUNCE -> {
                    int bufferIndex = b.getInt();
                    byte pull = b.get();
                    int n = b.getInt();
                    if (n < 1 || n > MAX_BLOCKS || b.remaining() != 4L * n) {
                        throw new MalformedMessageException("announcement block count " + n + " does not match its "
                                + b.remaining() + " B (1.." + MAX_BLOCKS + " blocks)");
                    }
                    if (bufferIndex < 0 || (pull != 0 && pull != 1)) {
                        throw new MalformedMessageException("announcement field out of range (slot " + bufferIndex + ", mode " + pull + ")");
                    }
                    int[] ids = new int[n];
                    for (int i = 0; i < n; i++) {
                        ids[i] = b.getInt();
                        if (ids[i] < 0) {
                            throw new MalformedMessageException("announcement block " + i + " has the negative id " + ids[i]);
                        }
                    }
                    yield new WireMessage.Announce(id, epoch, bufferIndex, pull == 1, ids);
                }
                case DONE -> new WireMessage.Done(id, epoch);
                case ABORT -> new WireMessage.Abort(id, epoch, b.getInt(), (flags & FLAG_FROM_MOVER) != 0);
                case RELEASED -> new WireMessage.Released(id, epoch);
                case PING -> new WireMessage.Ping();
            };
            if (b.hasRemaining()) {
                throw new MalformedMessageException(type + " has " + b.remaining() + " B of trailing payload");
            }
            return new Frame(type, session, seq, m);
        } catch (BufferUnderflowException e) {
            throw new MalformedMessageException("message truncated");
        }
    }

    private static byte[] bytes(ByteBuffer b, int n) {
        byte[] out = new byte[n];
        b.get(out);
        return out;
    }

    private static String name(ByteBuffer b) {
        int n = b.getShort() & 0xffff;
        if (n < 1 || n > MAX_NAME || n != b.remaining()) {
            throw new MalformedMessageException("agent name of " + n + " B in " + b.remaining() + " B (1.." + MAX_NAME + " allowed)");
        }
        return utf8(b, n);
    }

    private static String utf8(ByteBuffer b, int n) {
        ByteBuffer slice = b.slice(b.position(), n);
        b.position(b.position() + n);
        try {
            CharBuffer c = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(slice);
            return c.toString();
        } catch (CharacterCodingException e) {
            throw new MalformedMessageException("text field is not valid UTF-8");
        }
    }

    private static void putPool(ByteBuffer b, PoolInfo p) {
        b.put((byte) (p.vram() ? 1 : 0)).putInt(p.deviceId()).putLong(p.baseAddress()).putLong(p.blockBytes()).putInt(p.blockCount())
                .putInt(p.layers()).putInt(p.kvHeads()).putInt(p.headSize()).putInt(p.dtypeBytes()).putInt(p.tokensPerBlock())
                .put((byte) (p.pull() ? 1 : 0));
    }

    private static PoolInfo getPool(ByteBuffer b) {
        byte vram = b.get();
        int device = b.getInt();
        long base = b.getLong();
        long blockBytes = b.getLong();
        int blocks = b.getInt();
        int layers = b.getInt();
        int heads = b.getInt();
        int head = b.getInt();
        int dtype = b.getInt();
        int tokens = b.getInt();
        byte pull = b.get();
        if ((vram != 0 && vram != 1) || (pull != 0 && pull != 1) || device < 0 || blockBytes <= 0 || blocks <= 0 || layers <= 0
                || heads <= 0 || head <= 0 || dtype <= 0 || tokens <= 0 || base == 0) {
            throw new MalformedMessageException("pool description out of range");
        }
        return new PoolInfo(vram == 1, device, base, blockBytes, blocks, layers, heads, head, dtype, tokens, pull == 1);
    }
}
