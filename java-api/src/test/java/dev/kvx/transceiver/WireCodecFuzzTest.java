package dev.kvx.transceiver;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The decoder accepts exactly the valid messages and rejects everything else with one exception type. */
class WireCodecFuzzTest {
    private static final List<WireMessage> SAMPLES = List.of(
            new WireMessage.RequestInfo(Long.MAX_VALUE, 7, 3, 4096, List.of(0x1000L, 0x2000L, 0x3000L), 0, false),
            new WireMessage.RequestInfo(1, 0, 0, 1 << 20, List.of(0x7f00_0000_0000L), 1, true),
            new WireMessage.DataDone(42, 1),
            new WireMessage.Abort(-1, Integer.MAX_VALUE, 2),
            new WireMessage.Released(9, 3),
            new WireMessage.PeerMetadata(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, true),
            new WireMessage.PeerMetadata(new byte[] {42}, false),
            new WireMessage.Ping());

    @Test
    void everyMessageRoundTrips() {
        for (WireMessage m : SAMPLES) {
            byte[] bytes = WireCodec.encode(m);
            assertTrue(WireCodec.looksLikeKvx(bytes));
            assertEquals(m, WireCodec.decode(bytes));
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
                bytes = new byte[rnd.nextInt(80)];
                rnd.nextBytes(bytes);
                if (rnd.nextBoolean() && bytes.length >= 4) {
                    bytes[0] = 'K';
                    bytes[1] = 'V';
                    bytes[2] = 'X';
                    bytes[3] = WireCodec.VERSION;
                }
            } else {
                byte[] base = WireCodec.encode(SAMPLES.get(rnd.nextInt(SAMPLES.size())));
                bytes = mutate(base, rnd);
            }
            try {
                WireMessage m = WireCodec.decode(bytes);
                assertNotNull(m);
                assertArrayEquals(bytes, WireCodec.encode(m), "an accepted message must be canonical");
                accepted++;
            } catch (MalformedMessageException e) {
                assertNotNull(e.getMessage());
                rejected++;
            }
        }
        assertTrue(rejected > 100_000, "rejected " + rejected);
        assertTrue(accepted > 0, "some mutations (e.g. of ids) stay valid");
    }

    private static byte[] mutate(byte[] base, Random rnd) {
        return switch (rnd.nextInt(4)) {
            case 0 -> { // flip a byte
                byte[] b = base.clone();
                b[rnd.nextInt(b.length)] ^= (byte) (1 + rnd.nextInt(255));
                yield b;
            }
            case 1 -> java.util.Arrays.copyOf(base, rnd.nextInt(base.length)); // truncate
            case 2 -> java.util.Arrays.copyOf(base, base.length + 1 + rnd.nextInt(16)); // extend
            default -> { // change the declared length
                byte[] b = base.clone();
                b[17 + rnd.nextInt(4)] = (byte) rnd.nextInt();
                yield b;
            }
        };
    }

    @Test
    void specificBadInputsNameTheProblem() {
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.decode(new byte[3])).getMessage().contains("shorter"));
        byte[] v = WireCodec.encode(new WireMessage.DataDone(1, 1));
        v[3] = 9;
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.decode(v)).getMessage().contains("version 9"));
        byte[] t = WireCodec.encode(new WireMessage.DataDone(1, 1));
        t[4] = 77;
        assertTrue(assertThrows(MalformedMessageException.class, () -> WireCodec.decode(t)).getMessage().contains("unknown message type"));
        assertThrows(MalformedMessageException.class, () -> WireCodec.decode(null));
    }
}
