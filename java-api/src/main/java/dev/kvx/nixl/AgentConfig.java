package dev.kvx.nixl;

import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link NixlAgent} is created ({@code nixl_capi_agent_config_t}).
 *
 * <p>Defaults, chosen deliberately for small machines: NIXL's progress thread <b>on</b> with a 1 ms
 * poll delay. The thread is what lets a passive target (an agent that only receives WRITEs) make UCX
 * progress without the application polling it; NIXL's own default delay of 0 µs makes that thread
 * spin a whole core, which on a 2-core machine halves throughput, while 1 ms lets it sleep in
 * {@code poll()} and wake on transport events. Without the thread, the target must call
 * {@link NixlAgent#pollNotifications()} regularly or WRITEs to it never complete.
 *
 * @param progressThread run NIXL's UCX progress thread
 * @param progressThreadDelay its poll timeout (rounded up to whole milliseconds by NIXL)
 * @param listenThread run NIXL's metadata listener (socket exchange)
 * @param listenPort the listener's port (0: any)
 * @param listenThreadDelay the listener's poll delay
 * @param threadSync NIXL's locking mode; kvx serialises calls per agent itself, so NONE is enough
 * @param captureTelemetry collect NIXL per-transfer telemetry
 */
public record AgentConfig(boolean progressThread, Duration progressThreadDelay, boolean listenThread,
                          int listenPort, Duration listenThreadDelay, ThreadSync threadSync,
                          boolean captureTelemetry) {
    /** Validates the values, naming the field that is wrong. */
    public AgentConfig {
        Objects.requireNonNull(progressThreadDelay, "progressThreadDelay");
        Objects.requireNonNull(listenThreadDelay, "listenThreadDelay");
        Objects.requireNonNull(threadSync, "threadSync");
        if (progressThreadDelay.isNegative()) {
            throw new IllegalArgumentException("progressThreadDelay must be >= 0, got " + progressThreadDelay);
        }
        if (listenThreadDelay.isNegative()) {
            throw new IllegalArgumentException("listenThreadDelay must be >= 0, got " + listenThreadDelay);
        }
        if (listenPort < 0 || listenPort > 65535) {
            throw new IllegalArgumentException("listenPort must be 0..65535, got " + listenPort);
        }
    }

    /** The defaults described above. */
    public static AgentConfig defaults() {
        return new AgentConfig(true, Duration.ofMillis(1), false, 0, Duration.ofMillis(100), ThreadSync.NONE, false);
    }

    /** A copy with the progress thread switched on or off. */
    public AgentConfig withProgressThread(boolean on) {
        return new AgentConfig(on, progressThreadDelay, listenThread, listenPort, listenThreadDelay, threadSync,
                captureTelemetry);
    }

    /** A copy with another progress-thread delay. */
    public AgentConfig withProgressThreadDelay(Duration delay) {
        return new AgentConfig(progressThread, delay, listenThread, listenPort, listenThreadDelay, threadSync,
                captureTelemetry);
    }

    /** A copy with the metadata listener on the given port. */
    public AgentConfig withListener(int port) {
        return new AgentConfig(progressThread, progressThreadDelay, true, port, listenThreadDelay, threadSync,
                captureTelemetry);
    }
}
