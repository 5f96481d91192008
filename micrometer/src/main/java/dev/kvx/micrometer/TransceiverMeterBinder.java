package dev.kvx.micrometer;

import dev.kvx.transceiver.CacheTransceiver;
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
 * <tr><td>{@code kvx.transceiver.messages.dropped}</td><td>counter</td><td>{@code reason}: malformed, stale</td>
 *     <td>wire messages dropped</td></tr>
 * <tr><td>{@code kvx.transceiver.peers.disconnected} / {@code .reconnected}</td><td>counter</td><td></td>
 *     <td>peers disconnected for memory safety, and connected again</td></tr>
 * <tr><td>{@code kvx.transceiver.peers.lost}</td><td>counter</td><td></td>
 *     <td>peers found unreachable while requests with them were in flight (those requests failed)</td></tr>
 * <tr><td>{@code kvx.transceiver.deadline.lateness.max}</td><td>gauge (seconds)</td><td></td>
 *     <td>the largest time between a deadline and its TIMED_OUT outcome</td></tr>
 * </table>
 *
 * {@snippet :
 * MeterRegistry registry = new SimpleMeterRegistry();     // or Prometheus, OTLP, ...
 * new TransceiverMeterBinder(transceiver).bindTo(registry);
 * double completed = registry.get("kvx.transceiver.requests").tag("outcome", "completed").counter().count();
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

    private static double of(CacheTransceiver t, java.util.function.ToLongFunction<CacheTransceiver.Snapshot> f) {
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
                t -> of(t, CacheTransceiver.Snapshot::submitted));
        String outcomes = "request outcomes delivered";
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "completed", t -> of(t, CacheTransceiver.Snapshot::completed));
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "timed_out", t -> of(t, CacheTransceiver.Snapshot::timedOut));
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "cancelled", t -> of(t, CacheTransceiver.Snapshot::cancelled));
        counter(r, "kvx.transceiver.requests", outcomes, "outcome", "failed", t -> of(t, CacheTransceiver.Snapshot::failed));
        FunctionTimer.builder("kvx.transceiver.transfer", transceiver, t -> t.metrics().snapshot().completed(),
                        t -> t.metrics().snapshot().completedLatencyNanos(), TimeUnit.NANOSECONDS)
                .description("completed requests, submission to outcome").tags(tags).register(r);
        FunctionCounter.builder("kvx.transceiver.bytes", transceiver, t -> of(t, CacheTransceiver.Snapshot::completedBytes))
                .description("KV bytes of completed requests").baseUnit("bytes").tags(tags).register(r);
        gauge(r, "kvx.transceiver.requests.in.flight", "submitted requests without an outcome yet", null, null,
                t -> of(t, s -> s.submitted() - s.outcomes()));
        gauge(r, "kvx.transceiver.slots.in.use", "staging slots leased", "side", "send", t -> of(t, CacheTransceiver.Snapshot::sendSlotsInUse));
        gauge(r, "kvx.transceiver.slots.in.use", "staging slots leased", "side", "recv", t -> of(t, CacheTransceiver.Snapshot::recvSlotsInUse));
        gauge(r, "kvx.transceiver.blocks", "KV blocks of the pool", "state", "free", t -> of(t, CacheTransceiver.Snapshot::freeBlocks));
        gauge(r, "kvx.transceiver.blocks", "KV blocks of the pool", "state", "allocated", t -> of(t, CacheTransceiver.Snapshot::allocatedBlocks));
        gauge(r, "kvx.transceiver.blocks", "KV blocks of the pool", "state", "quarantined",
                t -> of(t, CacheTransceiver.Snapshot::quarantinedBlocks));
        counter(r, "kvx.transceiver.errors", "exceptions caught and turned into outcomes", "where", "request",
                t -> of(t, CacheTransceiver.Snapshot::requestErrors));
        counter(r, "kvx.transceiver.errors", "exceptions caught and turned into outcomes", "where", "engine",
                t -> of(t, CacheTransceiver.Snapshot::engineErrors));
        counter(r, "kvx.transceiver.messages.dropped", "wire messages dropped", "reason", "malformed",
                t -> of(t, CacheTransceiver.Snapshot::malformedMessages));
        counter(r, "kvx.transceiver.messages.dropped", "wire messages dropped", "reason", "stale",
                t -> of(t, CacheTransceiver.Snapshot::staleMessages));
        counter(r, "kvx.transceiver.peers.disconnected", "peers disconnected for memory safety", null, null,
                t -> of(t, CacheTransceiver.Snapshot::peersInvalidated));
        counter(r, "kvx.transceiver.peers.reconnected", "disconnected peers connected again", null, null,
                t -> of(t, CacheTransceiver.Snapshot::peersReconnected));
        counter(r, "kvx.transceiver.peers.lost", "peers found unreachable with requests in flight (those requests failed)", null, null,
                t -> of(t, CacheTransceiver.Snapshot::peersLost));
        Gauge.builder("kvx.transceiver.deadline.lateness.max", transceiver, t -> t.metrics().snapshot().maxLatenessNanos() / 1e9)
                .description("largest time between a deadline and its TIMED_OUT outcome").baseUnit("seconds").tags(tags).register(r);
    }
}
