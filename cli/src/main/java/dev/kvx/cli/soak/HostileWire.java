package dev.kvx.cli.soak;

import dev.kvx.nixl.NixlAgent;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The hostile peer as an eavesdropper: it reads the frames the workers sent ({@code kvx worker --wire-out},
 * written by {@link WireTap}: what anyone on the network path sees, since kvx's messages are authenticated
 * but not encrypted) and sends, each from an agent that takes the original sender's name, to the original
 * receiver:
 * <ul>
 * <li>{@link Kind#REPLAYED}: the captured frame again, byte for byte (a replay: refused by the session's
 *     replay window);</li>
 * <li>{@link Kind#TAMPERED}: the captured frame with one bit flipped in its sequence number, request id,
 *     epoch, payload or tag (refused: the MAC does not verify);</li>
 * <li>{@link Kind#SESSION_FORGED}: a new Abort in the captured frame's real session, with a fresh sequence
 *     number, signed with a key the attacker made up (refused: the MAC does not verify).</li>
 * </ul>
 * Not thread-safe.
 */
final class HostileWire {
    private static final System.Logger LOG = System.getLogger(HostileWire.class.getName());

    /** What it sends. */
    enum Kind { REPLAYED, TAMPERED, SESSION_FORGED }

    /** One captured frame: who sent it, to whom, its bytes. */
    record Captured(String from, String to, byte[] frame, boolean handshake) {}

    private final List<Path> files;
    private final Map<Path, FileTime> loaded = new HashMap<>();
    private final Map<Path, List<Captured>> frames = new HashMap<>();
    private final SplittableRandom random;
    private final Map<Kind, Long> sent = new EnumMap<>(Kind.class);
    private long unreachable;
    private long next;

    HostileWire(List<Path> files, long seed) {
        this.files = files;
        this.random = new SplittableRandom(seed ^ 0x5eed);
        for (Kind k : Kind.values()) {
            sent.put(k, 0L);
        }
    }

    /** Reads the capture files that are new or changed; returns how many frames it holds. */
    int refresh() {
        for (Path f : files) {
            try {
                FileTime t = Files.getLastModifiedTime(f);
                if (t.equals(loaded.get(f))) {
                    continue;
                }
                List<String> lines = Files.readAllLines(f, StandardCharsets.US_ASCII);
                if (lines.isEmpty() || !lines.get(0).startsWith("from ")) {
                    continue;
                }
                String from = lines.get(0).substring(5).trim();
                List<Captured> got = new ArrayList<>();
                for (String line : lines.subList(1, lines.size())) {
                    int sp = line.indexOf(' ');
                    if (sp > 0) {
                        byte[] frame = HexFormat.of().parseHex(line.substring(sp + 1).trim());
                        got.add(new Captured(from, line.substring(0, sp), frame, isHandshake(frame)));
                    }
                }
                frames.put(f, got);
                loaded.put(f, t);
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "capture file " + f + " not usable yet: " + e);
            }
        }
        return frames.values().stream().mapToInt(List::size).sum();
    }

    private static boolean isHandshake(byte[] frame) {
        try {
            return WireCodec.checkHeader(frame).usesHandshakeKey();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Sends the next attack made from a captured frame, through {@code targets}' agents; false if it holds none yet. */
    boolean sendOne(HostileTargets targets) {
        List<Captured> all = new ArrayList<>();
        frames.values().forEach(all::addAll);
        if (all.isEmpty()) {
            return false;
        }
        long n = next++;
        Captured c = all.get(random.nextInt(all.size()));
        Kind kind = Kind.values()[(int) (n % Kind.values().length)];
        if (kind == Kind.SESSION_FORGED && c.handshake()) {
            kind = Kind.REPLAYED; // a handshake frame names no session to forge in
        }
        byte[] bytes = switch (kind) {
            case REPLAYED -> c.frame();
            case TAMPERED -> tampered(c.frame());
            case SESSION_FORGED -> forgedIn(c.frame());
        };
        NixlAgent as = targets.agent(c.to(), c.from());
        if (as == null) {
            unreachable++; // the receiver is gone (a restarted worker): the frame has nobody to go to
            return true;
        }
        try {
            as.sendNotification(c.to(), bytes);
            sent.merge(kind, 1L, Long::sum);
        } catch (RuntimeException e) {
            unreachable++;
        }
        return true;
    }

    /** One bit flipped outside the magic, type, session id and payload length (so the frame is well formed and names the session). */
    private byte[] tampered(byte[] frame) {
        byte[] t = frame.clone();
        int at;
        do {
            at = 16 + random.nextInt(t.length - 16);
        } while (at >= 36 && at < 40);
        t[at] ^= (byte) (1 << random.nextInt(8));
        return t;
    }

    /** An Abort in the captured frame's session, ahead of its sequence numbers, under a made-up key. */
    private byte[] forgedIn(byte[] frame) {
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        long session = b.getLong(8);
        long seq = b.getLong(16) + 1 + random.nextInt(1000);
        long id = b.getLong(24);
        int epoch = b.getInt(32);
        byte[] key = new byte[32];
        random.nextBytes(key);
        return WireCodec.encode(new WireMessage.Abort(id, epoch, 2, random.nextBoolean()), session, seq, new MacKey(key));
    }

    Map<Kind, Long> sent() {
        return sent;
    }

    long total() {
        return sent.values().stream().mapToLong(Long::longValue).sum();
    }

    long unreachable() {
        return unreachable;
    }
}
