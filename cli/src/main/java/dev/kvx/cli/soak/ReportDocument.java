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
 * @param hosts hosts, peers, UCX lanes and cross-host faults of a run across hosts ({@code kvx soak --hosts}); null otherwise
 * @param screenshot {@code report.png} when the page was rendered in a headless browser, else why not
 * @param hostilePeer with {@code --hostile-peer}: what the hostile peer sent, what the workers refused, the
 *        requests it affected ({@link HostileReport}); else null
 */
record ReportDocument(boolean ok, Map<String, Object> parameters, Map<String, Object> invariants, List<PhaseFigures> phases,
                      List<Event> events, List<Sample> timeline, Hosts hosts, String screenshot, Map<String, Object> hostilePeer) {

    /** The same document with the screenshot's outcome. */
    ReportDocument withScreenshot(String s) {
        return new ReportDocument(ok, parameters, invariants, phases, events, timeline, hosts, s, hostilePeer);
    }

    /**
     * A run across network-namespace hosts.
     *
     * @param etcd etcd's endpoint, its host and version
     * @param etcdNamespace the key prefix the workers publish under
     * @param ucx the UCX settings the workers ran with (e.g. {@code UCX_TLS=tcp})
     * @param hosts every host, with its address and what runs there
     * @param peers every worker: its host, address, role and the peers it had sessions with
     * @param ucxLanes the lanes UCX chose (from {@code UCX_PROTO_INFO}), per worker
     * @param faults the cross-host faults with their start, end and the requests they touched
     * @param pairs requests and throughput per (prefill, decode) pair
     */
    record Hosts(String etcd, String etcdNamespace, String ucx, List<Host> hosts, List<Peer> peers, Map<String, List<String>> ucxLanes,
                 List<Fault> faults, List<Pair> pairs) {}

    /**
     * One namespace host.
     *
     * @param name its name in the run ({@code h0}, {@code etcd})
     * @param namespace the Linux network namespace
     * @param address its IPv4 address on the run's bridge
     * @param runs what runs there ({@code prefill-0, decode-1}, {@code etcd})
     */
    record Host(String name, String namespace, String address, String runs) {}

    /**
     * One worker.
     *
     * @param name its NIXL agent name (the key it publishes in etcd)
     * @param role prefill or decode
     * @param host the host it runs in
     * @param address that host's address
     * @param starts how many times it was started (more than 1 after its host was killed and came back)
     * @param sessions the peers it had a session with at the end
     */
    record Peer(String name, String role, String host, String address, int starts, List<String> sessions) {}

    /**
     * One cross-host fault and what it did.
     *
     * @param kind cut-link, partition, loss, delay, kill-host or restart-etcd
     * @param target the host(s) it hit
     * @param start seconds since the start of the run when it began (the timeline's clock)
     * @param end seconds when it was undone (the link restored, the host and its workers back); -1 if it never ran
     * @param status {@code done}, or why it did not run (e.g. unsupported on this kernel)
     * @param touched requests in flight on an affected pair of workers while it lasted
     * @param touchedOutcomes their outcomes
     * @param lastEndedMsAfterStart when the last of them ended, in ms after the fault began
     * @param slowestTouchedMs the longest of them, submission to its last outcome, in ms
     * @param recoveredMsAfterEnd ms from the fault's end to the first request on an affected pair that completed after it (-1: none)
     * @param othersCompleted requests on the pairs it did not touch that completed while it was in effect (-1: it touched every pair)
     */
    record Fault(String kind, String target, double start, double end, String status, long touched, Map<String, Long> touchedOutcomes,
                 double lastEndedMsAfterStart, double slowestTouchedMs, double recoveredMsAfterEnd, long othersCompleted) {}

    /**
     * The requests between one prefill and one decode worker.
     *
     * @param prefill the context worker
     * @param decode the generation worker
     * @param requests how many went between them
     * @param completed how many completed
     * @param gigabytes completed bytes / 1e9
     */
    record Pair(String prefill, String decode, long requests, long completed, double gigabytes) {}

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
     * @param kind the marker's kind ({@code fault} and {@code heal} across hosts)
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
