package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.NanoClock;
import java.time.Duration;

/** A {@link NanoClock} that moves only when a test moves it. Single-threaded, like the harness that drives it. */
final class FakeClock implements NanoClock {
    private long now;

    FakeClock(long origin) {
        this.now = origin;
    }

    @Override
    public long nanoTime() {
        return now;
    }

    void set(long nanos) {
        now = nanos;
    }

    /** Moves time forward (wrapping past Long.MAX_VALUE like System.nanoTime may). */
    void advance(Duration d) {
        now += d.toNanos();
    }
}
