package dev.kvx.cli.soak;

import dev.kvx.transceiver.FaultInjector;
import dev.kvx.transceiver.TransferPhase;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * The soak run's fault kinds, each with a rate per request (decided once per request, reproducibly
 * from the seed):
 * {@code silent-gen} (the generation side never sends its request info),
 * {@code no-ack} (the generation side's first Abort of the request is lost),
 * {@code no-write} (the context side never writes),
 * {@code drop-notif} (the first copy of an outgoing notice of the request is lost: Announce, Abort or Released),
 * {@code exception} (an exception thrown inside request handling),
 * {@code late-write} (the context side ignores the generation side's Abort and lets its WRITE land
 * {@code lateWriteDelay} later, after the generation side gave up and after its quarantine timeout: a
 * late or lying peer; the blocks it lands in must still be quarantined).
 *
 * <p>Lost notices are lost once: a copy sent again (the announcer asks again for the proof its quarantine
 * waits for, and the mover answers each ask) goes through, as on a network that loses messages. Dropping every
 * copy would make an honest peer a permanently mute one, whose quarantines are never proven and which stays
 * unhealthy for good: that is what {@code silent-gen} and {@code no-write} are for.
 */
final class SoakFaults implements FaultInjector {
    /** Request ids from here on are recovery probes, which faults never hit. */
    static final long PROBE_ID_BASE = 1L << 40;
    static final String[] KINDS = {"silent-gen", "no-ack", "no-write", "drop-notif", "exception", "late-write"};
    private final Map<String, Double> rates;
    private final long seed;
    private final boolean generationSide;
    private final Duration lateWriteDelay;
    private final java.util.Set<Long> dropped = new java.util.HashSet<>();

    SoakFaults(Map<String, Double> rates, long seed, boolean generationSide, Duration lateWriteDelay) {
        this.rates = rates;
        this.seed = seed;
        this.generationSide = generationSide;
        this.lateWriteDelay = lateWriteDelay;
    }

    /** Parses {@code kind=rate,kind=rate} (or {@code none}); rates in [0, 1]. */
    static Map<String, Double> parse(String spec) {
        Map<String, Double> out = new TreeMap<>();
        if (spec == null || spec.isBlank() || spec.equals("none")) {
            return out;
        }
        for (String part : spec.split(",")) {
            String[] kv = part.split("=");
            String kind = kv[0].trim().toLowerCase(Locale.ROOT);
            if (java.util.Arrays.stream(KINDS).noneMatch(kind::equals)) {
                throw new IllegalArgumentException("unknown fault '" + kind + "' (known: " + String.join(", ", KINDS) + ")");
            }
            double rate;
            try {
                rate = kv.length > 1 ? Double.parseDouble(kv[1].trim()) : 0.02;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("fault rate for " + kind + " must be a number in [0,1], got '" + kv[1] + "'");
            }
            if (!(rate >= 0 && rate <= 1)) {
                throw new IllegalArgumentException("fault rate for " + kind + " must be in [0,1], got " + rate);
            }
            out.put(kind, rate);
        }
        return out;
    }

    /** Spells a parsed spec back ({@code none} when empty), as the worker's {@code --faults} reads it. */
    static String format(Map<String, Double> rates) {
        if (rates.isEmpty()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        rates.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ",").append(k).append('=').append(v));
        return sb.toString();
    }

    /**
     * The per-request faults that hit this request (either side): for the report's fault markers.
     * {@code drop-notif} is decided per message and is not listed.
     */
    java.util.List<String> kindsHitting(long requestId) {
        return java.util.stream.Stream.of("silent-gen", "no-ack", "no-write", "exception", "late-write").filter(k -> hits(k, requestId)).toList();
    }

    /** Whether no fault of the plan touches this request: no per-request kind hits it and none of its messages is dropped. */
    boolean untouched(long requestId) {
        if (!kindsHitting(requestId).isEmpty()) {
            return false;
        }
        for (Message m : Message.values()) {
            if (requestId < PROBE_ID_BASE && hits("drop-notif", requestId * 31 + m.ordinal())) {
                return false;
            }
        }
        return true;
    }

    /** Whether the plan injects anything at all. */
    boolean injectsAny() {
        return rates.values().stream().anyMatch(r -> r > 0);
    }

    /** True the first time for this key: the first copy of a notice is lost, copies sent again go through. */
    private synchronized boolean once(long key) {
        return dropped.add(key);
    }

    private boolean hits(String kind, long requestId) {
        if (requestId >= PROBE_ID_BASE) {
            return false;
        }
        Double rate = rates.get(kind);
        return rate != null && rate > 0
                && new SplittableRandom(seed ^ (requestId * 0x9E3779B97F4A7C15L) ^ kind.hashCode()).nextDouble() < rate;
    }

    @Override
    public void beforeStep(long requestId, TransferPhase phase) {
        if (hits("exception", requestId) && phase != TransferPhase.SUBMITTED) {
            throw new IllegalStateException("soak: injected exception in request " + requestId + " at " + phase);
        }
    }

    @Override
    public boolean dropOutgoing(Message m, long requestId) {
        if (generationSide && m == Message.ANNOUNCE && hits("silent-gen", requestId)) {
            return true;
        }
        if (generationSide && m == Message.ABORT && hits("no-ack", requestId)) {
            return once(requestId * 31 + m.ordinal());
        }
        return requestId < PROBE_ID_BASE && hits("drop-notif", requestId * 31 + m.ordinal()) && once(requestId * 31 + m.ordinal());
    }

    @Override
    public boolean withholdTransfer(long requestId) {
        return !generationSide && hits("no-write", requestId);
    }

    @Override
    public Duration lateTransfer(long requestId) {
        return !generationSide && hits("late-write", requestId) ? lateWriteDelay : Duration.ZERO;
    }
}
