package dev.kvx.transceiver.internal.wire;

/**
 * Which sequence numbers of one direction of a session were seen: a sliding window of 65,536 numbers
 * (IPsec-style). A number seen before, or older than the window, is a replay and is refused. Messages
 * may arrive out of order within the window (a WRITE's completion notice is numbered when the WRITE is
 * made and delivered when it ends). Not thread-safe: the engine owns it.
 */
public final class ReplayWindow {
    /** Numbers the window spans. */
    public static final int SIZE = 1 << 16;
    private final long[] bits = new long[SIZE / 64];
    private long highest; // 0: none yet (numbers start at 1)

    /** Records {@code seq} and returns true if it is fresh; false for a replay, a stale or a non-positive number. */
    public boolean accept(long seq) {
        if (seq <= 0) {
            return false;
        }
        if (seq > highest) {
            long advance = seq - highest;
            if (advance >= SIZE) {
                java.util.Arrays.fill(bits, 0L);
            } else {
                for (long s = highest + 1; s < seq; s++) {
                    clear(s);
                }
            }
            highest = seq;
            set(seq);
            return true;
        }
        if (highest - seq >= SIZE) {
            return false;
        }
        if (isSet(seq)) {
            return false;
        }
        set(seq);
        return true;
    }

    /** The highest number seen. */
    public long highest() {
        return highest;
    }

    private void set(long s) {
        int i = (int) (s & (SIZE - 1));
        bits[i >>> 6] |= 1L << (i & 63);
    }

    private void clear(long s) {
        int i = (int) (s & (SIZE - 1));
        bits[i >>> 6] &= ~(1L << (i & 63));
    }

    private boolean isSet(long s) {
        int i = (int) (s & (SIZE - 1));
        return (bits[i >>> 6] & (1L << (i & 63))) != 0;
    }
}
