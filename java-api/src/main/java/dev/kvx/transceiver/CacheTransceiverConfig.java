package dev.kvx.transceiver;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a {@link CacheTransceiver}, mirroring the reference's {@code CacheTransceiverConfig}
 * (same defaults) plus what kvx adds. Every value is validated; a bad one is rejected naming its field.
 * Durations of any length are accepted: a very long one (a "no deadline" of years) saturates at about
 * 146 years instead of overflowing.
 *
 * @param backend NIXL backend plugin, {@code UCX}
 * @param kvTransferTimeout budget of one transfer from its submission, on both sides (reference: 60 s)
 * @param kvTransferSenderFutureTimeout the reference's per-poll wait in the check functions (reference: 1 s)
 * @param sendBufferCount staging slots on the sending side (reference default 1)
 * @param recvBufferCount staging slots on the receiving side (reference default 1)
 * @param quarantineTimeout how long a peer may take to prove that an abandoned transfer can no longer
 *        touch quarantined blocks before it is marked <b>unhealthy</b> (no new work until it does). The
 *        blocks themselves are never released on a timer, only on proof (default 2 × kvTransferTimeout)
 * @param transferMode push (the context side WRITEs) or pull (the generation side READs)
 * @param limits caps on what peers can make this side hold
 * @param peerCheckInterval how often peers with work in flight are probed for liveness (100 ms)
 * @param handshakeTimeout how long a connect waits for the peer's handshake answer (10 s)
 * @param closeTimeout how long {@code close()} waits for the engine to end (10 s)
 * @param faults fault hooks ({@link FaultInjector#NONE} in production)
 */
public record CacheTransceiverConfig(String backend, Duration kvTransferTimeout, Duration kvTransferSenderFutureTimeout,
                                     int sendBufferCount, int recvBufferCount, Duration quarantineTimeout,
                                     TransferMode transferMode, TransceiverLimits limits, Duration peerCheckInterval,
                                     Duration handshakeTimeout, Duration closeTimeout, FaultInjector faults) {
    /** The longest duration kvx computes with (2^62 ns, about 146 years); longer ones saturate to it. */
    public static final long MAX_NANOS = 1L << 62;

    /** Validates every field by name. */
    public CacheTransceiverConfig {
        Objects.requireNonNull(backend, "backend");
        if (!backend.equals("UCX")) {
            throw new IllegalArgumentException("backend must be UCX (the only NIXL backend kvx drives), got " + backend);
        }
        positive("kvTransferTimeout", kvTransferTimeout);
        positive("kvTransferSenderFutureTimeout", kvTransferSenderFutureTimeout);
        positive("quarantineTimeout", quarantineTimeout);
        positive("peerCheckInterval", peerCheckInterval);
        positive("handshakeTimeout", handshakeTimeout);
        positive("closeTimeout", closeTimeout);
        if (sendBufferCount < 1) {
            throw new IllegalArgumentException("sendBufferCount must be >= 1, got " + sendBufferCount);
        }
        if (recvBufferCount < 1) {
            throw new IllegalArgumentException("recvBufferCount must be >= 1, got " + recvBufferCount);
        }
        Objects.requireNonNull(transferMode, "transferMode");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(faults, "faults");
    }

    /** The reference's defaults: 60 s transfer timeout, 1 s sender future timeout, one slot per side; push mode. */
    public static CacheTransceiverConfig defaults() {
        return new CacheTransceiverConfig("UCX", Duration.ofSeconds(60), Duration.ofSeconds(1), 1, 1, Duration.ofSeconds(120),
                TransferMode.PUSH, TransceiverLimits.defaults(), Duration.ofMillis(100), Duration.ofSeconds(10),
                Duration.ofSeconds(10), FaultInjector.NONE);
    }

    /** Nanoseconds of a duration, saturated at {@link #MAX_NANOS} (never overflows, never negative). */
    public static long nanos(Duration d) {
        if (d.isNegative()) {
            return 0;
        }
        if (d.getSeconds() >= MAX_NANOS / 1_000_000_000L) {
            return MAX_NANOS;
        }
        return Math.min(MAX_NANOS, d.toNanos());
    }

    /** A copy with another transfer timeout (and quarantine timeout twice that). */
    public CacheTransceiverConfig withKvTransferTimeout(Duration timeout) {
        positive("kvTransferTimeout", timeout);
        Duration q = nanos(timeout) >= MAX_NANOS / 2 ? Duration.ofNanos(MAX_NANOS) : timeout.multipliedBy(2);
        return new CacheTransceiverConfig(backend, timeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount, q,
                transferMode, limits, peerCheckInterval, handshakeTimeout, closeTimeout, faults);
    }

    /** A copy with another quarantine timeout. */
    public CacheTransceiverConfig withQuarantineTimeout(Duration timeout) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                timeout, transferMode, limits, peerCheckInterval, handshakeTimeout, closeTimeout, faults);
    }

    /** A copy with other slot counts. */
    public CacheTransceiverConfig withBufferCounts(int send, int recv) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, send, recv, quarantineTimeout,
                transferMode, limits, peerCheckInterval, handshakeTimeout, closeTimeout, faults);
    }

    /** A copy with another transfer mode. */
    public CacheTransceiverConfig withTransferMode(TransferMode mode) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                quarantineTimeout, mode, limits, peerCheckInterval, handshakeTimeout, closeTimeout, faults);
    }

    /** A copy with other limits. */
    public CacheTransceiverConfig withLimits(TransceiverLimits l) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                quarantineTimeout, transferMode, l, peerCheckInterval, handshakeTimeout, closeTimeout, faults);
    }

    /** A copy with another liveness probe interval. */
    public CacheTransceiverConfig withPeerCheckInterval(Duration interval) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                quarantineTimeout, transferMode, limits, interval, handshakeTimeout, closeTimeout, faults);
    }

    /** A copy with another close timeout. */
    public CacheTransceiverConfig withCloseTimeout(Duration timeout) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                quarantineTimeout, transferMode, limits, peerCheckInterval, handshakeTimeout, timeout, faults);
    }

    /** A copy with fault hooks. */
    public CacheTransceiverConfig withFaults(FaultInjector f) {
        return new CacheTransceiverConfig(backend, kvTransferTimeout, kvTransferSenderFutureTimeout, sendBufferCount, recvBufferCount,
                quarantineTimeout, transferMode, limits, peerCheckInterval, handshakeTimeout, closeTimeout, f);
    }

    private static void positive(String field, Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(field + " must be > 0, got " + d);
        }
    }
}
