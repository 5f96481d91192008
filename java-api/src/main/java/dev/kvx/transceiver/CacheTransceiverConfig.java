package dev.kvx.transceiver;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a {@link CacheTransceiver}, mirroring the reference's {@code CacheTransceiverConfig}
 * (same defaults) plus what kvx adds. Every value is validated; a bad one is rejected naming its field.
 *
 * @param backend NIXL backend plugin, {@code UCX}
 * @param kvTransferTimeout budget of one transfer from its start, on both sides (reference: 60 s)
 * @param kvTransferSenderFutureTimeout the reference's per-poll wait in the check functions; kvx uses
 *        it as the wait of a check with {@code atLeast > 0} when nothing is ready (reference: 1 s)
 * @param sendBufferCount staging slots on the sending side (reference default 1)
 * @param recvBufferCount staging slots on the receiving side (reference default 1)
 * @param quarantineTimeout how long blocks of an abandoned transfer wait for the peer's release
 *        notice before the peer is treated as dead and disconnected (default 2 × kvTransferTimeout)
 * @param faults fault hooks ({@link FaultInjector#NONE} in production)
 */
public record CacheTransceiverConfig(String backend, Duration kvTransferTimeout, Duration kvTransferSenderFutureTimeout,
                                     int sendBufferCount, int recvBufferCount, Duration quarantineTimeout,
                                     FaultInjector faults) {
    /** Validates every field by name. */
    public CacheTransceiverConfig {
        Objects.requireNonNull(backend, "backend");
        if (!backend.equals("UCX")) {
            throw new IllegalArgumentException("backend must be UCX (the only NIXL backend kvx drives), got " + backend);
        }
        positive("kvTransferTimeout", kvTransferTimeout);
        positive("kvTransferSenderFutureTimeout", kvTransferSenderFutureTimeout);
        positive("quarantineTimeout", quarantineTimeout);
        if (sendBufferCount < 1) {
            throw new IllegalArgumentException("sendBufferCount must be >= 1, got " + sendBufferCount);
        }
        if (recvBufferCount < 1) {
            throw new IllegalArgumentException("recvBufferCount must be >= 1, got " + recvBufferCount);
        }
        Objects.requireNonNull(faults, "faults");
    }

    /** The reference's defaults: 60 s transfer timeout, 1 s sender future timeout, one slot per side. */
    public static CacheTransceiverConfig defaults() {
        return new CacheTransceiverConfig("UCX", Duration.ofSeconds(60), Duration.ofSeconds(1), 1, 1,
                Duration.ofSeconds(120), FaultInjector.NONE);
    }

    /** A copy with another transfer timeout (and quarantine timeout twice that). */
    public CacheTransceiverConfig withKvTransferTimeout(Duration timeout) {
        return new CacheTransceiverConfig(backend, timeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                timeout == null ? null : timeout.multipliedBy(2), faults);
    }

    /** A copy with other slot counts. */
    public CacheTransceiverConfig withBufferCounts(int send, int recv) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, send, recv,
                quarantineTimeout, faults);
    }

    /** A copy with fault hooks. */
    public CacheTransceiverConfig withFaults(FaultInjector f) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount,
                recvBufferCount, quarantineTimeout, f);
    }

    private static void positive(String field, Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(field + " must be > 0, got " + d);
        }
    }
}
