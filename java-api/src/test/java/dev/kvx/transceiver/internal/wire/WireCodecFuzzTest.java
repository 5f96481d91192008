package dev.kvx.transceiver.internal.wire;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The authenticated wire format: every sample round-trips; random and mutated bytes never escape as
 * anything but {@link MalformedMessageException}; a flipped bit anywhere, another key (another session
 * or secret) or a replayed sequence number is refused.
 */
class WireCodecFuzzTest {
    private static final PoolInfo POOL = new PoolInfo(false, 0, 0x7f00_0000_0000L, 4096, 256, 2, 2, 64, 2, 4, false);
    private static final List<WireMessage> SAMPLES = List.of(
            new WireMessage.Hello(nonce(1), 42, "gen-1", POOL),
            new WireMessage.Challenge(nonce(2), nonce(3), -7, "ctx-\u00e9", new PoolInfo(true, 1, 0x1000, 1 << 20, 8, 32, 8, 128, 2, 16, true)),
            new WireMessage.Confirm(),
            new WireMessage.Refused("incompatible peers: block size 4096 B here, 8192 B at the peer"),
            new WireMessage.Announce(Long.MAX_VALUE, 7, 3, false, new int[] {0, 5, 255}),
            new WireMessage.Announce(1, Integer.MAX_VALUE, 0, true, new int[] {9}),
            new WireMessage.Done(42, 1),
            new WireMessage.Abort(-1, Integer.MAX_VALUE, 2, false),
            new WireMessage.Abort(3, 4, 1, true),
            new WireMessage.Released(9, 3),
            new WireMessage.Ping());
    private final MacKey key = new MacKey(new byte[32]);

    private static byte[] nonce(int seed) {
        byte[] b = new byte[16];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void everyMessageRoundTripsAndVerifies() {
        long seq = 1;
        for (WireMessage m : SAMPLES) {
            byte[] bytes = WireCodec.encode(m, 0x1234_5678_9abcL, seq, key);
            assertTrue(WireCodec.looksLikeKvx(bytes));
            assertEquals(m.type(), WireCodec.checkHeader(bytes));
            assertTrue(WireCodec.macValid(bytes, key));
            WireCodec.Frame f = WireCodec.decode(bytes);
            assertEquals(m, f.message());
            assertEquals(0x1234_5678_9abcL, f.sessionId());
            assertEquals(seq++, f.seq());
        }
    }

    @Test
    void randomAndMutatedBytesNeverEscapeAsAnythingButMalformed() {
        Random rnd = new Random(1234);
        int rejected = 0;
        int accepted = 0;
        for (int i = 0; i < 200_000; i++) {
            byte[] bytes;
            if (i % 2 == 0) {
                bytes = new byte[rnd.nextInt(120)];
                rnd.nextBytes(bytes);
                if (rnd.nextBoolean() && bytes.length >= 4) {
                    bytes[0] = 'K';
                    bytes[1] = 'V';
                    bytes[2] = 'X';
                    bytes[3] = WireCodec.VERSION;
                }
            } else {
                byte[] base = WireCodec.encode(SAMPLES.get(rnd.nextInt(SAMPLES.size())), 1 + rnd.nextInt(1000), 1 + rnd.nextInt(1000), key);
                bytes = mutate(base, rnd);
            }
            try {
                WireCodec.Frame f = WireCodec.decode(bytes);
                assertNotNull(f.message());
                byte[] again = WireCodec.encode(f.message(), f.sessionId(), f.seq(), key);
                assertArrayEquals(Arrays.copyOf(bytes, bytes.length - MacKey.TAG), Arrays.copyOf(again, again.length - MacKey.TAG),
                        "an accepted frame must be canonical");
                accepted++;
            } catch (MalformedMessageException e) {
                assertNotNull(e.getMessage());
                rejected++;
            }
        }
        assertTrue(rejected > 100_000, "rejected " + rejected);
        assertTrue(accepted > 0, "some mutations (of ids, of the MAC) still parse; the MAC check refuses them");
    }

    @Test
    void everyFlippedBitAnotherKeyAndEveryReplayIsRefused() {
        MacKey other = new MacKey(new byte[] {1, 2, 3});
        for (WireMessage m : SAMPLES) {
            byte[] bytes = WireCodec.encode(m, 77, 5, key);
            assertFalse(WireCodec.macValid(bytes, other), "another session's or secret's key");
            for (int bit = 0; bit < bytes.length * 8; bit++) {
                byte[] b = bytes.clone();
                b[bit / 8] ^= (byte) (1 << (bit % 8));
                assertFalse(WireCodec.macValid(b, key), m.type() + ": flipped bit " + bit + " verified");
            }
        }
        ReplayWindow w = new ReplayWindow();
        assertTrue(w.accept(1));
        assertTrue(w.accept(3));
        assertTrue(w.accept(2), "out of order within the window");
        assertFalse(w.accept(2), "a replay");
        assertFalse(w.accept(0));
        assertFalse(w.accept(-5));
        assertTrue(w.accept(ReplayWindow.SIZE + 10));
        assertFalse(w.accept(5), "older than the window");
        assertFalse(w.accept(3), "older than the window");
        assertTrue(w.accept(ReplayWindow.SIZE + 9));
        assertFalse(w.accept(ReplayWindow.SIZE + 9));
        for (long s = ReplayWindow.SIZE + 11; s < 3L * ReplayWindow.SIZE; s++) {
            assertTrue(w.accept(s));
        }
        assertFalse(w.accept(ReplayWindow.SIZE + 11), "slid out");
    }

    private static byte[] mutate(byte[] base, Random rnd) {
        return switch (rnd.nextInt(4)) {
            case 0 -> { // flip a byte
                byte[] b = base.clone();
                b[rnd.nextInt(b.length)] ^= (byte) (1 + rnd.nextInt(255));
                yield b;
            }
            case 1 -> Arrays.copyOf(base, rnd.nextInt(base.length)); // truncate
            case 2 -> Arrays.copyOf(base, base.length + 1 + rnd.nextInt(16)); // extend
            default -> { // change the declared length
                byte[] b = base.clone();
                b[36 + rnd.nextInt(4)] = (byte) rnd.nextInt();
                yield b;
            }
        };
    }

    @Test
    void specificBadInputsNameTheProblem() {
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.decode(new byte[3])).getMessage().contains("shorter"));
        byte[] v = WireCodec.encode(new WireMessage.Done(1, 1), 1, 1, key);
        v[3] = 9;
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.decode(v)).getMessage().contains("version 9"));
        byte[] t = WireCodec.encode(new WireMessage.Done(1, 1), 1, 1, key);
        t[4] = 99;
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.checkHeader(t)).getMessage().contains("unknown message type"));
        byte[] z = WireCodec.encode(new WireMessage.Done(1, 1), 1, 1, key);
        java.nio.ByteBuffer.wrap(z).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(8, 0);
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.decode(z)).getMessage().contains("session id 0"));
        byte[] ping = WireCodec.encode(new WireMessage.Ping(), 1, 1, key);
        ping[24] = 1; // a connection message with a request id
        assertThrows(MalformedMessageException.class, () -> WireCodec.decode(ping));
        assertThrows(MalformedMessageException.class, () -> WireCodec.decode(null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WireCodec.encode(new WireMessage.Hello(nonce(1), 1, "x".repeat(300), POOL), 1, 0, key));
        assertTrue(e.getMessage().contains("agent name"));
    }
}
