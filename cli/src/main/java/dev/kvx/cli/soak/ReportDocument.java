package dev.kvx.cli.soak;

import java.util.List;
import java.util.Map;

/**
 * What {@code report.json} holds, written and read by Jackson ({@link ReportJson}); the HTML report
 * embeds the same document.
 *
 * @param ok whether every invariant held
 * @param parameters the run's options
 * @param invariants the checks and what the engines did
 * @param phases figures per phase
 * @param events phase starts, kills and restarts, with their time
 * @param timeline one sample per second
 * @param screenshot {@code report.png} when the page was rendered in a headless browser, else why not
 * @param hostilePeer with {@code --hostile-peer}: what the hostile peer sent, what the workers refused, the
 *        requests it affected ({@link HostileReport}); else null
 */
record ReportDocument(boolean ok, Map<String, Object> parameters, Map<String, Object> invariants, List<PhaseFigures> phases,
                      List<Event> events, List<Sample> timeline, String screenshot, Map<String, Object> hostilePeer) {

    /** The same document with the screenshot's outcome. */
    ReportDocument withScreenshot(String s) {
        return new ReportDocument(ok, parameters, invariants, phases, events, timeline, s, hostilePeer);
    }

    /**
     * Latency figures in milliseconds, from an HdrHistogram.
     *
     * @param count values recorded
     * @param p50 median
     * @param p99 99th percentile
     * @param max largest
     */
    record Percentiles(long count, double p50, double p99, double max) {
        static final Percentiles NONE = new Percentiles(0, 0, 0, 0);
    }

    /**
     * Figures of one phase.
     *
     * @param phase WARMUP, BURST, IDLE or PROBES
     * @param outcomes requests by outcome
     * @param latencyMs latency of completed requests (generation side, submit to verified)
     * @param seconds how long the phase lasted
     * @param requestsPerSecond completed requests per second
     * @param gigabytesPerSecond completed bytes per second / 1e9
     * @param deadlineLatenessMs how late after its deadline a timed-out request ended (both sides)
     */
    record PhaseFigures(String phase, Map<String, Long> outcomes, Percentiles latencyMs, double seconds, double requestsPerSecond,
                        double gigabytesPerSecond, Percentiles deadlineLatenessMs) {}

    /**
     * Something that happened at a point of the run: {@code phase}, {@code kill}, {@code restart}.
     *
     * @param t seconds since the start
     * @param kind the marker's kind
     * @param text what happened
     */
    record Event(double t, String kind, String text) {}

    /**
     * One second of the run.
     *
     * @param t seconds since the start
     * @param phase the phase then
     * @param inFlight requests without both outcomes
     * @param completed completed so far (cumulative; so are the next four)
     * @param timedOut timed out so far
     * @param cancelled cancelled so far
     * @param failed failed so far
     * @param other rejected, killed, corrupt so far
     * @param latencyMs latency of the requests that completed in this second
     * @param faults injected faults by kind among the requests submitted in this second
     * @param ctxSlots staging slots in use, context side
     * @param genSlots staging slots in use, generation side
     * @param ctxFreeBlocks free KV blocks, context side
     * @param genFreeBlocks free KV blocks, generation side
     * @param capacity KV blocks per side
     */
    record Sample(double t, String phase, long inFlight, long completed, long timedOut, long cancelled, long failed, long other,
                  Percentiles latencyMs, Map<String, Long> faults, long ctxSlots, long genSlots, long ctxFreeBlocks, long genFreeBlocks,
                  long capacity) {}
}
