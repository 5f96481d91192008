package dev.kvx.transceiver.internal.engine;

/** Where the engine's time comes from: {@link #system()} in production, a fake in deterministic tests. */
@FunctionalInterface
public interface Clock {
    /** Monotonic nanoseconds (only differences mean anything). */
    long nanoTime();

    /** {@link System#nanoTime()}. */
    static Clock system() {
        return System::nanoTime;
    }
}
