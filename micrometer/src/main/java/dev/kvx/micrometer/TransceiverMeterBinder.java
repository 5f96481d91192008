package dev.kvx.micrometer;

import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.TransceiverMetrics;
import dev.kvx.transceiver.TransferOutcome;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Exports one {@link CacheTransceiver}'s metrics to a Micrometer registry. Every meter reads the
 * transceiver's own counters when the registry is scraped (nothing is copied on the transfer path),
 * and carries the tag {@code transceiver=<agent name>}:
 *
 * <table>
 * <caption>meters</caption>
 * <tr><th>name</th><th>type</th><th>tags</th><th>what</th></tr>
 * <tr><td>{@code kvx.transceiver.requests.submitted}</td><td>counter</td><td></td><td>requests handed to the engine</td></tr>
 * <tr><td>{@code kvx.transceiver.requests}</td><td>counter</td><td>{@code outcome}: completed, timed_out, cancelled, failed</td>
 *     <td>outcomes delivered</td></tr>
 * <tr><td>{@code kvx.transceiver.transfer}</td><td>function timer</td><td></td>
 *     <td>count and total time (submission to outcome) of completed requests</td></tr>
 * <tr><td>{@code kvx.transceiver.bytes}</td><td>counter (bytes)</td><td></td><td>KV bytes of completed requests</td></tr>
 * <tr><td>{@code kvx.transceiver.requests.in.flight}</td><td>gauge</td><td></td><td>submitted minus outcomes</td></tr>
 * <tr><td>{@code kvx.transceiver.slots.in.use}</td><td>gauge</td><td>{@code side}: send, recv</td><td>staging slots leased</td></tr>
 * <tr><td>{@code kvx.transceiver.blocks}</td><td>gauge</td><td>{@code state}: free, allocated, quarantined</td>
 *     <td>the KV block pool</td></tr>
 * <tr><td>{@code kvx.transceiver.errors}</td><td>counter</td><td>{@code where}: request, engine</td>
 *     <td>exceptions caught (inside one request's handling, or outside)</td></tr>
 * <tr><td>{@code kvx.transceiver.messages.dropped}</td><td>counter</td><td>{@code reason}: malformed, stale, foreign</td>
 *     <td>wire messages dropped</td></tr>
 * <tr><td>{@code kvx.transceiver.latency}</td><td>timer with percentiles (p50, p90, p99, p99.9) and a histogram</td><td></td>
 *     <td>submission to outcome of each completed request, recorded as it completes</td></tr>
 * <tr><td>{@code kvx.transceiver.messages.refused}</td><td>counter</td><td>{@code reason}: auth, unknown_session, replay,
 *     oversize, pending_cap, peer_cap</td><td>messages refused before they touched a request</td></tr>
 * <tr><td>{@code kvx.transceiver.handshakes}</td><td>counter</td><td>{@code result}: established, refused</td><td>sessions</td></tr>
 * <tr><td>{@code kvx.transceiver.control.refused}</td><td>counter</td><td></td>
 *     <td>control-channel exchanges refused (no proof of the secret, bad input, timeout)</td></tr>
 * <tr><td>{@code kvx.transceiver.sessions}, {@code .peers.unhealthy}</td><td>gauge</td><td></td>
 *     <td>live sessions; peers that owe a proof and get no new work</td></tr>
 * <tr><td>{@code kvx.transceiver.quarantines.proven}</td><td>counter</td><td>{@code by}: release, peer_loss</td>
 *     <td>quarantined blocks returned on proof</td></tr>
 * <tr><td>{@code kvx.transceiver.peers.lost}</td><td>counter</td><td></td>
 *     <td>peers found unreachable while requests with them were in flight (those requests failed)</td></tr>
 * <tr><td>{@code kvx.transceiver.deadline.lateness.max}</td><td>gauge (seconds)</td><td></td>
 *     <td>the largest time between a deadline and its TIMED_OUT outcome</td></tr>
 * </table>
 *
 * {@snippet :
 * MeterRegistry registry = new SimpleMeterRegistry();     // or Prometheus, OTLP, ...
 * new TransceiverMeterBinder(transceiver).bindTo(registry);
 * double completed = registry.get("kvx.transceiver.requests").tag("outcome", "completed").functionCounter().count(); // read at scrape time
 * }
 */
public final class TransceiverMeterBinder implements MeterBinder {
    private final CacheTransceiver transceiver;
    private final Tags tags;

    /** Binds the transceiver's meters with the tag {@code transceiver=<name>}. */
    public TransceiverMeterBinder(CacheTransceiver transceiver) {
        this(transceiver, Tags.empty());
    }

    /** Binds the transceiver's meters with {@code transceiver=<name>} plus the given tags. */
    public TransceiverMeterBinder(CacheTransceiver transceiver, Iterable<Tag> extraTags) {
        this.transceiver = Objects.requireNonNull(transceiver, "transceiver");
        this.tags = Tags.of("transceiver", transceiver.name()).and(extraTags);
    }

    private static double of(CacheTransceiver t, java.util.function.ToLongFunction<TransceiverMetrics.Snapshot> f) {
        return f.applyAsLong(t.metrics().snapshot());
    }

    private void counter(MeterRegistry r, String name, String description, String tagKey, String tagValue,
                         ToDoubleFunction<CacheTransceiver> f) {
        FunctionCounter.Builder<CacheTransceiver> b = FunctionCounter.builder(name, transceiver, f).description(description).tags(tags);
        if (tagKey != null) {
            b.tag(tagKey, tagValue);
        }
        b.register(r);
    }

    private void gauge(MeterRegistry r, String name, String description, String tagKey, String tagValue,
                       ToDoubleFunction<CacheTransceiver> f) {
        Gauge.Builder<CacheTransceiver> b = Gauge.builder(name, transceiver, f).description(description).tags(tags);
        if (tagKey != null) {
            b.tag(tagKey, tagValue);
        }
        b.register(r);
    }

    @Override
    public void bindTo(MeterRegistry r) {
        counter(r, "kvx.transceiver.requests.submitted", "requests handed to the engine", null, null,
                t -> of(t, TransceiverMetrics.Snapshot::submitted));
        String outcomes = "request outcomes delivered";
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "completed", t -> of(t, TransceiverMetrics.Snapshot::completed));
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "timed_out", t -> of(t, TransceiverMetrics.Snapshot::timedOut));
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "cancelled", t -> of(t, TransceiverMetrics.Snapshot::cancelled));
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "failed", t -> of(t, TransceiverMetrics.Snapshot::failed));
        FunctionTimer.builder("kvx.transceiver.transfer", transceiver, t -> t.metrics().snapshot().completed(),
                        t -> t.metrics().snapshot().completedLatencyNanos(), TimeUnit.NANOSECONDS)
                .description("completed requests, submission to outcome").tags(tags).register(r);
        FunctionCounter.builder("kvx.transceiver.bytes", transceiver, t -> of(t, TransceiverMetrics.Snapshot::completedBytes))
                .description("KV bytes of completed requests").baseUnit("bytes").tags(tags).register(r);
        gauge(r, "kvx.transceiver.requests.in.flight", "submitted requests without an outcome yet", null, null,
                t -> of(t, s -> s.submitted() - s.outcomes()));
        gauge(r, "kvx.transceiver.slots.in.use", "staging slots leased", "side", "send", t -> of(t, TransceiverMetrics.Snapshot::sendSlotsInUse));
        gauge(r, "kvx.transceiver.slots.in.use", "staging slots leased", "side", "recv", t -> of(t, TransceiverMetrics.Snapshot::recvSlotsInUse));
        gauge(r, "kvx.transceiver.blocks", "KV blocks of the pool", "state", "free", t -> of(t, TransceiverMetrics.Snapshot::freeBlocks));
        gauge(r, "kvx.transceiver.blocks", "KV blocks of the pool", "state", "allocated", t -> of(t, TransceiverMetrics.Snapshot::allocatedBlocks));
        gauge(r, "kvx.transceiver.blocks", "KV blocks of the pool", "state", "quarantined",
                t -> of(t, TransceiverMetrics.Snapshot::quarantinedBlocks));
        counter(r, "kvx.transceiver.errors", "exceptions caught and turned into outcomes", "where", "request",
                t -> of(t, TransceiverMetrics.Snapshot::requestErrors));
        counter(r, "kvx.transceiver.errors", "exceptions caught and turned into outcomes", "where", "engine",
                t -> of(t, TransceiverMetrics.Snapshot::engineErrors));
        counter(r, "kvx.transceiver.messages.dropped", "wire messages dropped", "reason", "malformed",
                t -> of(t, TransceiverMetrics.Snapshot::malformedMessages));
        counter(r, "kvx.transceiver.messages.dropped", "wire messages dropped", "reason", "stale",
                t -> of(t, TransceiverMetrics.Snapshot::staleMessages));
        counter(r, "kvx.transceiver.messages.dropped", "wire messages dropped", "reason", "foreign",
                t -> of(t, TransceiverMetrics.Snapshot::foreignMessages));
        counter(r, "kvx.transceiver.messages.refused", "messages refused before they touched a request", "reason", "auth",
                t -> of(t, TransceiverMetrics.Snapshot::refusedAuth));
        counter(r, "kvx.transceiver.messages.refused", "messages refused before they touched a request", "reason", "unknown_session",
                t -> of(t, TransceiverMetrics.Snapshot::refusedUnknownSession));
        counter(r, "kvx.transceiver.messages.refused", "messages refused before they touched a request", "reason", "replay",
                t -> of(t, TransceiverMetrics.Snapshot::refusedReplay));
        counter(r, "kvx.transceiver.messages.refused", "messages refused before they touched a request", "reason", "oversize",
                t -> of(t, TransceiverMetrics.Snapshot::refusedOversize));
        counter(r, "kvx.transceiver.messages.refused", "messages refused before they touched a request", "reason", "pending_cap",
                t -> of(t, TransceiverMetrics.Snapshot::refusedPendingCap));
        counter(r, "kvx.transceiver.messages.refused", "messages refused before they touched a request", "reason", "peer_cap",
                t -> of(t, TransceiverMetrics.Snapshot::refusedPeerCap));
        counter(r, "kvx.transceiver.handshakes", "sessions established", "result", "established",
                t -> of(t, TransceiverMetrics.Snapshot::handshakes));
        counter(r, "kvx.transceiver.handshakes", "sessions established", "result", "refused",
                t -> of(t, TransceiverMetrics.Snapshot::refusedHandshakes));
        counter(r, "kvx.transceiver.control.refused", "control-channel exchanges refused (no proof of the secret, bad input, timeout)",
                null, null, t -> of(t, TransceiverMetrics.Snapshot::refusedControl));
        gauge(r, "kvx.transceiver.sessions", "live sessions (connected peers)", null, null, t -> of(t, TransceiverMetrics.Snapshot::sessions));
        gauge(r, "kvx.transceiver.peers.unhealthy", "peers that have not proven an abandoned transfer over in time (no new work)",
                null, null, t -> of(t, TransceiverMetrics.Snapshot::unhealthyPeers));
        counter(r, "kvx.transceiver.quarantines.proven", "quarantines ended by proof that no transfer can land", "by", "release",
                t -> of(t, TransceiverMetrics.Snapshot::quarantinesProvenByRelease));
        counter(r, "kvx.transceiver.quarantines.proven", "quarantines ended by proof that no transfer can land", "by", "peer_loss",
                t -> of(t, TransceiverMetrics.Snapshot::quarantinesProvenByPeerLoss));
        counter(r, "kvx.transceiver.peers.lost", "peers found unreachable with requests in flight (those requests failed)", null, null,
                t -> of(t, TransceiverMetrics.Snapshot::peersLost));
        Timer latency = Timer.builder("kvx.transceiver.latency").description("submission to outcome of completed requests")
                .publishPercentiles(0.5, 0.9, 0.99, 0.999).publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(10_000))
                .maximumExpectedValue(Duration.ofSeconds(120)).tags(tags).register(r);
        transceiver.metrics().addOutcomeListener(o -> {
            if (o.status() == TransferOutcome.Status.COMPLETED) {
                latency.record(o.latencyNanos(), TimeUnit.NANOSECONDS);
            }
        });
        Gauge.builder("kvx.transceiver.deadline.lateness.max", transceiver, t -> t.metrics().snapshot().maxLatenessNanos() / 1e9)
                .description("largest time between a deadline and its TIMED_OUT outcome").baseUnit("seconds").tags(tags).register(r);
    }
}
