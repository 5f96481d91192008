package dev.kvx.transceiver;

import dev.kvx.transceiver.internal.engine.EngineCounters;
import dev.kvx.transceiver.internal.engine.TransceiverEngine;

/** Counters and gauges of one transceiver, safe to read from any thread. */
public final class TransceiverMetrics {
    private final TransceiverEngine engine;
    private final java.util.function.LongSupplier controlRefused;

    TransceiverMetrics(TransceiverEngine engine, java.util.function.LongSupplier controlRefused) {
        this.engine = engine;
        this.controlRefused = controlRefused;
    }

    /** A consistent-enough snapshot for reports, scrapes and assertions. */
    public Snapshot snapshot() {
        EngineCounters c = engine.counters();
        var pool = engine.pool();
        return new Snapshot(c.submitted.get(), c.completed.get(), c.timedOut.get(), c.cancelled.get(), c.failed.get(),
                c.requestErrors.get(), c.engineErrors.get(), c.malformedMessages.get(), c.foreignMessages.get(), c.staleMessages.get(),
                c.droppedByFault.get(), c.refusedAuth.get(), c.refusedUnknownSession.get(), c.refusedReplay.get(),
                c.refusedOversize.get(), c.refusedPendingCap.get(), c.refusedPeerCap.get(), c.refusedHandshakes.get(),
                c.handshakes.get(), engine.liveSessions(), engine.unhealthySessions(), c.peersMarkedUnhealthy.get(), c.peersLost.get(),
                c.peersEvicted.get(), engine.sendSlotsInUse(), engine.recvSlotsInUse(), pool.freeBlocks(), pool.allocatedBlocks(),
                pool.quarantinedBlocks(), c.quarantinesProvenByRelease.get(), c.quarantinesProvenByPeerLoss.get(),
                engine.pendingAnnounces(), engine.liveTasks(), c.ticks.get(), c.maxLatenessNanos.get(), c.completedLatencyNanos.get(),
                c.completedBytes.get(), c.metadataPublishes.get(), controlRefused.getAsLong());
    }

    /**
     * Adds a listener that sees every outcome (for meters such as a Micrometer timer), on the thread that
     * delivers it, before the request's future completes. It must not block; an exception it throws is
     * logged and ignored.
     */
    public void addOutcomeListener(java.util.function.Consumer<TransferOutcome> listener) {
        engine.addOutcomeListener(java.util.Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Percentiles of the latency (submission to outcome) of the COMPLETED requests since the transceiver
     * started, from an HdrHistogram (1 µs to 1 h, three significant digits).
     */
    public LatencyPercentiles completedLatency() {
        var h = engine.counters().latencyHistogram();
        return new LatencyPercentiles(h.getTotalCount(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), h.getMaxValue());
    }

    /**
     * Latency percentiles in nanoseconds (0 when no request completed yet).
     *
     * @param count completed requests
     * @param p50Nanos median
     * @param p90Nanos 90th percentile
     * @param p99Nanos 99th percentile
     * @param p999Nanos 99.9th percentile
     * @param maxNanos largest
     */
    public record LatencyPercentiles(long count, long p50Nanos, long p90Nanos, long p99Nanos, long p999Nanos, long maxNanos) {}

    /**
     * Figures of one transceiver.
     *
     * @param submitted requests submitted
     * @param completed outcomes COMPLETED
     * @param timedOut outcomes TIMED_OUT
     * @param cancelled outcomes CANCELLED
     * @param failed outcomes FAILED
     * @param requestErrors exceptions caught inside one request's handling (each failed only that request)
     * @param engineErrors exceptions caught outside request handling
     * @param malformedMessages kvx messages dropped as malformed
     * @param foreignMessages notifications that are not kvx's (ignored)
     * @param staleMessages authenticated messages of finished or unknown attempts, dropped
     * @param droppedByFault messages dropped by fault injection
     * @param refusedAuth messages whose MAC did not verify, or that came from another agent than their session's
     * @param refusedUnknownSession messages naming no session of this side
     * @param refusedReplay messages whose sequence number was seen before (replays)
     * @param refusedOversize notifications over {@code maxMessageBytes}, dropped without being copied
     * @param refusedPendingCap announcements refused by the pending caps
     * @param refusedPeerCap handshakes refused by the peer or handshake cap
     * @param refusedHandshakes handshakes refused or dropped (bad, incompatible, unknown agent)
     * @param handshakes sessions established
     * @param sessions live sessions now
     * @param unhealthyPeers sessions now unhealthy (no new work)
     * @param peersMarkedUnhealthy times a session became unhealthy
     * @param peersLost sessions ended because the peer's endpoint failed
     * @param peersEvicted idle sessions evicted to admit a new peer, and metadata copies of admitted peers that never
     *        connected, released past {@code maxPendingHandshakes} to admit a newer one
     * @param sendSlotsInUse send staging slots held now
     * @param recvSlotsInUse receive staging slots held now
     * @param freeBlocks free KV blocks now
     * @param allocatedBlocks KV blocks held by requests now
     * @param quarantinedBlocks KV blocks in quarantine now (awaiting proof that no transfer can touch them)
     * @param quarantinesProvenByRelease quarantines ended by the mover's Released or Done
     * @param quarantinesProvenByPeerLoss quarantines ended because the peer's endpoint failed
     * @param pendingAnnounces announcements kept for requests not submitted here yet
     * @param liveRequests requests in the engine now
     * @param ticks engine duty cycles
     * @param maxLatenessNanos largest time between a deadline and the TIMED_OUT outcome
     * @param completedLatencyNanos sum of the latencies of COMPLETED requests
     * @param completedBytes KV bytes of COMPLETED requests
     * @param metadataPublishes times the metadata was published to etcd again after etcd lost it
     * @param refusedControl exchanges the control channel refused (no proof of the secret, bad input, timeout, too
     *        many unproven at once); 0 without a control channel
     */
    public record Snapshot(long submitted, long completed, long timedOut, long cancelled, long failed, long requestErrors,
                           long engineErrors, long malformedMessages, long foreignMessages, long staleMessages, long droppedByFault,
                           long refusedAuth, long refusedUnknownSession, long refusedReplay, long refusedOversize,
                           long refusedPendingCap, long refusedPeerCap, long refusedHandshakes, long handshakes, int sessions,
                           int unhealthyPeers, long peersMarkedUnhealthy, long peersLost, long peersEvicted, int sendSlotsInUse,
                           int recvSlotsInUse, int freeBlocks, int allocatedBlocks, int quarantinedBlocks,
                           long quarantinesProvenByRelease, long quarantinesProvenByPeerLoss, int pendingAnnounces, int liveRequests,
                           long ticks, long maxLatenessNanos, long completedLatencyNanos, long completedBytes,
                           long metadataPublishes, long refusedControl) {
        /** Outcomes delivered so far. */
        public long outcomes() {
            return completed + timedOut + cancelled + failed;
        }

        /** Messages refused for authentication, session, replay, size or caps. */
        public long refused() {
            return refusedAuth + refusedUnknownSession + refusedReplay + refusedOversize + refusedPendingCap + refusedPeerCap;
        }
    }
}
