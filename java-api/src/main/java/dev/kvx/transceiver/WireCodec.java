package dev.kvx.transceiver;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes and decodes {@link WireMessage}s. Layout (little endian): magic {@code "KVX"} (3 bytes),
 * version (1), type (1), request id (8), epoch (4), payload length (4), payload. Decoding checks
 * every length against the bytes present and throws {@link MalformedMessageException}, never
 * anything else.
 */
public final class WireCodec {
    /** Wire version this code speaks. */
    public static final byte VERSION = 1;
    static final int HEADER = 3 + 1 + 1 + 8 + 4 + 4;
    /** The most block addresses one RequestInfo may carry. */
    public static final int MAX_BLOCKS = 1 << 16;
    private static final byte T_REQUEST_INFO = 1;
    private static final byte T_DATA_DONE = 2;
    private static final byte T_ABORT = 3;
    private static final byte T_RELEASED = 4;
    private static final byte T_PEER_METADATA = 5;
    private static final byte T_PING = 6;
    /** The largest agent metadata a PeerMetadata message may carry. */
    public static final int MAX_METADATA = 1 << 20;

    private WireCodec() {}

    /** Serialises a message. */
    public static byte[] encode(WireMessage m) {
        byte type;
        int payload;
        switch (m) {
            case WireMessage.RequestInfo r -> {
                type = T_REQUEST_INFO;
                payload = 4 + 8 + 4 + 1 + 4 + 8 * r.blockAddresses().size();
            }
            case WireMessage.DataDone d -> {
                type = T_DATA_DONE;
                payload = 0;
            }
            case WireMessage.Abort a -> {
                type = T_ABORT;
                payload = 4;
            }
            case WireMessage.Released r -> {
                type = T_RELEASED;
                payload = 0;
            }
            case WireMessage.PeerMetadata p -> {
                type = T_PEER_METADATA;
                payload = 1 + p.metadata().length;
            }
            case WireMessage.Ping p -> {
                type = T_PING;
                payload = 0;
            }
        }
        ByteBuffer b = ByteBuffer.allocate(HEADER + payload).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'K').put((byte) 'V').put((byte) 'X').put(VERSION).put(type).putLong(m.requestId()).putInt(m.epoch()).putInt(payload);
        switch (m) {
            case WireMessage.RequestInfo r -> {
                b.putInt(r.bufferIndex()).putLong(r.blockBytes()).putInt(r.deviceId()).put((byte) (r.vram() ? 1 : 0))
                        .putInt(r.blockAddresses().size());
                r.blockAddresses().forEach(b::putLong);
            }
            case WireMessage.Abort a -> b.putInt(a.reason());
            case WireMessage.PeerMetadata p -> b.put((byte) (p.wantsReply() ? 1 : 0)).put(p.metadata());
            default -> { }
        }
        return b.array();
    }

    /** Whether the bytes start like a kvx message (other traffic on the agent is ignored, not counted). */
    public static boolean looksLikeKvx(byte[] bytes) {
        return bytes.length >= 3 && bytes[0] == 'K' && bytes[1] == 'V' && bytes[2] == 'X';
    }

    /**
     * Parses a message.
     *
     * @throws MalformedMessageException for anything that is not a valid message of this version
     */
    public static WireMessage decode(byte[] bytes) {
        if (bytes == null || bytes.length < HEADER) {
            throw new MalformedMessageException("message of " + (bytes == null ? 0 : bytes.length) + " B is shorter than the "
                    + HEADER + " B header");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (b.get() != 'K' || b.get() != 'V' || b.get() != 'X') {
                throw new MalformedMessageException("bad magic (not a kvx message)");
            }
            byte version = b.get();
            if (version != VERSION) {
                throw new MalformedMessageException("wire version " + version + ", this kvx speaks " + VERSION);
            }
            byte type = b.get();
            long id = b.getLong();
            int epoch = b.getInt();
            int payload = b.getInt();
            if (payload != b.remaining()) {
                throw new MalformedMessageException("payload length " + payload + " but " + b.remaining() + " B follow");
            }
            return switch (type) {
                case T_REQUEST_INFO -> {
                    int bufferIndex = b.getInt();
                    long blockBytes = b.getLong();
                    int device = b.getInt();
                    byte vram = b.get();
                    int n = b.getInt();
                    if (n < 1 || n > MAX_BLOCKS || n != b.remaining() / 8 || b.remaining() % 8 != 0) {
                        throw new MalformedMessageException("request info block count " + n + " does not match its "
                                + b.remaining() + " B");
                    }
                    if (blockBytes <= 0 || bufferIndex < 0 || device < 0 || (vram != 0 && vram != 1)) {
                        throw new MalformedMessageException("request info field out of range (block bytes " + blockBytes
                                + ", buffer " + bufferIndex + ", device " + device + ", vram " + vram + ")");
                    }
                    List<Long> addrs = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        long a = b.getLong();
                        if (a == 0) {
                            throw new MalformedMessageException("request info block " + i + " has a NULL address");
                        }
                        addrs.add(a);
                    }
                    yield new WireMessage.RequestInfo(id, epoch, bufferIndex, blockBytes, addrs, device, vram == 1);
                }
                case T_DATA_DONE -> empty(b, new WireMessage.DataDone(id, epoch));
                case T_ABORT -> {
                    if (payload != 4) {
                        throw new MalformedMessageException("abort payload must be 4 B, got " + payload);
                    }
                    yield new WireMessage.Abort(id, epoch, b.getInt());
                }
                case T_RELEASED -> empty(b, new WireMessage.Released(id, epoch));
                case T_PING -> {
                    if (id != 0 || epoch != 0) {
                        throw new MalformedMessageException("ping with id " + id + ", epoch " + epoch + " (both must be 0)");
                    }
                    yield empty(b, new WireMessage.Ping());
                }
                case T_PEER_METADATA -> {
                    byte wantsReply = b.get();
                    if (id != 0 || epoch != 0 || (wantsReply != 0 && wantsReply != 1) || payload < 2 || payload - 1 > MAX_METADATA) {
                        throw new MalformedMessageException("peer metadata message out of range (id " + id + ", epoch " + epoch
                                + ", flag " + wantsReply + ", " + (payload - 1) + " B of metadata)");
                    }
                    byte[] md = new byte[b.remaining()];
                    b.get(md);
                    yield new WireMessage.PeerMetadata(md, wantsReply == 1);
                }
                default -> throw new MalformedMessageException("unknown message type " + type);
            };
        } catch (BufferUnderflowException e) {
            throw new MalformedMessageException("message truncated");
        }
    }

    private static WireMessage empty(ByteBuffer b, WireMessage m) {
        if (b.hasRemaining()) {
            throw new MalformedMessageException(m.getClass().getSimpleName() + " carries no payload, got " + b.remaining() + " B");
        }
        return m;
    }
}
