package dev.kvx.transceiver;

/**
 * Where a transceiver's engine takes its time from: {@link #system()} in production, a fake one in
 * deterministic tests ({@link CacheTransceiver.Builder#clock}). Deadlines, quarantine and liveness timers
 * all read it.
 */
@FunctionalInterface
public interface NanoClock {
    /** Monotonic nanoseconds (only differences mean anything). */
    long nanoTime();

    /** {@link System#nanoTime()}. */
    static NanoClock system() {
        return System::nanoTime;
    }
}
