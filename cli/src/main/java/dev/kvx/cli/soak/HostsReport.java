package dev.kvx.cli.soak;

import dev.kvx.cli.hosts.EtcdProcess;
import dev.kvx.cli.hosts.NetnsHost;
import dev.kvx.cli.hosts.NetnsHosts;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The part of the soak report that is about hosts: the hosts and what runs there, every worker with its
 * host, address and sessions, the UCX lanes, the requests per (prefill, decode) pair, and each
 * cross-host fault with its start and end, the requests it touched (on an affected pair, submitted before
 * the fault was undone and ended after it began), how long they took to end and how soon an affected pair completed a request after it.
 * Adds its checks to the invariants: every fault that ran ended and was recovered from.
 */
final class HostsReport {
    private final ReportDocument.Hosts section;
    private final long faultsRun;
    private final long faultsUnsupported;
    private final long faultsFailed;
    private final long faultsWithoutRecovery;

    HostsReport(SoakOptions o, NetnsHosts hosts, EtcdProcess etcd, String etcdNamespace, HostWorkers workers,
                List<CrossHostFaults.Record> records, List<SoakRequest> requests, SoakTimeline timeline) {
        HostsTopology t = o.topology;
        List<ReportDocument.Host> hostList = new ArrayList<>();
        Map<String, String> address = new LinkedHashMap<>();
        for (NetnsHost h : hosts.hosts().stream().sorted(java.util.Comparator.comparingInt(x -> t.namespaces().indexOf(x.name()))).toList()) {
            address.put(h.name(), h.address());
            List<String> runs = h.name().equals(HostsTopology.ETCD_HOST) ? List.of("etcd") : t.workersIn(h.name());
            hostList.add(new ReportDocument.Host(h.name(), h.namespace(), h.address(), runs.isEmpty() ? "idle" : String.join(" ", runs)));
        }
        List<ReportDocument.Peer> peers = new ArrayList<>();
        Map<String, List<String>> lanes = new LinkedHashMap<>();
        for (HostWorkers.Slot s : workers.slots()) {
            WorkerProcess p = s.process;
            peers.add(new ReportDocument.Peer(s.name, s.role == SoakWorker.Role.CTX ? "prefill" : "decode", s.host,
                    address.getOrDefault(s.host, "?"), s.starts, p == null ? List.of() : p.peers.stream().sorted().toList()));
            lanes.put(s.name, UcxLanes.read(UcxLanes.logsOf(o.reportDir, s.name)));
        }
        List<ReportDocument.Pair> pairs = new ArrayList<>();
        for (String pw : t.prefill()) {
            for (String dw : t.decode()) {
                List<SoakRequest> rs = requests.stream().filter(r -> pw.equals(r.ctxWorker) && dw.equals(r.genWorker)).toList();
                List<SoakRequest> done = rs.stream().filter(r -> r.outcome().equals("COMPLETED")).toList();
                pairs.add(new ReportDocument.Pair(pw, dw, rs.size(), done.size(),
                        Math.round(done.stream().mapToLong(r -> r.blocks * o.blockBytes()).sum() / 1e6) / 1000.0));
            }
        }
        List<ReportDocument.Fault> faults = new ArrayList<>();
        long run = 0;
        long unsupported = 0;
        long failed = 0;
        long unrecovered = 0;
        for (CrossHostFaults.Record r : records) {
            if (r.startNanos == 0) {
                unsupported += r.status.startsWith("unsupported") ? 1 : 0;
                failed += r.status.startsWith("failed") ? 1 : 0;
                faults.add(new ReportDocument.Fault(r.spec.kind().label, target(r, t), -1, -1, r.status, 0, Map.of(), -1, -1, -1, -1));
                continue;
            }
            run++;
            failed += r.status.startsWith("failed") ? 1 : 0;
            long start = r.startNanos;
            long end = r.endNanos == 0 ? System.nanoTime() : r.endNanos;
            long undone = r.undoneNanos == 0 ? end : r.undoneNanos;
            Set<String> affected = Set.copyOf(r.workers);
            List<SoakRequest> touched = requests.stream().filter(q -> affected.contains(q.ctxWorker) || affected.contains(q.genWorker))
                    .filter(q -> q.submitNanos <= undone && (!q.done() || q.endNanos() >= start)).toList();
            Map<String, Long> outcomes = new TreeMap<>();
            touched.forEach(q -> outcomes.merge(q.outcome(), 1L, Long::sum));
            double lastEnded = touched.stream().filter(SoakRequest::done).mapToLong(q -> q.endNanos() - start).max().orElse(0) / 1e6;
            double slowest = touched.stream().filter(SoakRequest::done).mapToLong(q -> q.endNanos() - q.submitNanos).max().orElse(0) / 1e6;
            double recovered = requests.stream().filter(q -> affected.contains(q.ctxWorker) || affected.contains(q.genWorker))
                    .filter(q -> q.submitNanos >= end && q.outcome().equals("COMPLETED")).mapToLong(q -> q.genAtNanos - end).min()
                    .orElse(-1_000_000) / 1e6;
            // the pairs it did not touch: one peer's trouble must not stop the others
            boolean everyPair = t.prefill().stream().allMatch(affected::contains) || t.decode().stream().allMatch(affected::contains);
            long others = everyPair ? -1 : requests.stream().filter(q -> !affected.contains(q.ctxWorker) && !affected.contains(q.genWorker))
                    .filter(q -> q.outcome().equals("COMPLETED") && q.genAtNanos >= start && q.genAtNanos <= undone).count();
            if (recovered < 0 && !r.status.startsWith("failed")) {
                unrecovered++;
            }
            faults.add(new ReportDocument.Fault(r.spec.kind().label, target(r, t), timeline.at(start), r.endNanos == 0 ? -1 : timeline.at(end),
                    r.status, touched.size(), outcomes, round(lastEnded), round(slowest), round(recovered), others));
        }
        this.faultsRun = run;
        this.faultsUnsupported = unsupported;
        this.faultsFailed = failed;
        this.faultsWithoutRecovery = unrecovered;
        this.section = new ReportDocument.Hosts(etcd.endpoint() + " in host " + etcd.host().name() + " (" + etcd.host().namespace() + ")",
                etcdNamespace, "UCX_TLS=" + o.hostsOptions.ucxTls, hostList, peers, lanes, faults, pairs);
    }

    private static String target(CrossHostFaults.Record r, HostsTopology t) {
        return switch (r.spec.kind()) {
            case PARTITION -> "prefill hosts " + t.prefillHosts() + " | decode hosts " + t.decodeHosts();
            case RESTART_ETCD -> HostsTopology.ETCD_HOST;
            default -> r.spec.host() + " " + r.workers;
        };
    }

    private static double round(double ms) {
        return Math.round(ms * 10) / 10.0;
    }

    ReportDocument.Hosts section() {
        return section;
    }

    /** Adds the cross-host checks to the invariants; returns whether they hold. */
    boolean addInvariants(Map<String, Object> invariants) {
        invariants.put("hosts", section.hosts().size());
        invariants.put("hostFaultsRun", faultsRun);
        invariants.put("hostFaultsUnsupportedHere", faultsUnsupported);
        invariants.put("hostFaultsFailed", faultsFailed);
        invariants.put("hostFaultsWithoutRecovery", faultsWithoutRecovery);
        return faultsFailed == 0 && faultsWithoutRecovery == 0;
    }

    /** The hosts part of the terminal report. */
    void print(PrintWriter out) {
        out.printf(Locale.ROOT, "hosts (etcd %s, keys under %s; %s):%n", section.etcd(), section.etcdNamespace(), section.ucx());
        for (ReportDocument.Host h : section.hosts()) {
            out.printf(Locale.ROOT, "  %-5s %-12s %-22s %s%n", h.name(), h.address(), h.namespace(), h.runs());
        }
        out.println("peers (found by name through etcd):");
        for (ReportDocument.Peer p : section.peers()) {
            out.printf(Locale.ROOT, "  %-10s %-7s on %s (%s), started %d time(s), sessions with %s%n", p.name(), p.role(), p.host(), p.address(),
                    p.starts(), p.sessions());
        }
        out.println("UCX lanes (UCX_PROTO_INFO):");
        section.ucxLanes().forEach((w, l) -> out.printf(Locale.ROOT, "  %-10s %s%n", w, l.isEmpty() ? "(none logged)" : String.join("; ", l)));
        out.println("pairs (prefill -> decode): requests, completed, GB");
        for (ReportDocument.Pair p : section.pairs()) {
            out.printf(Locale.ROOT, "  %-10s -> %-10s %6d %6d %8.3f%n", p.prefill(), p.decode(), p.requests(), p.completed(), p.gigabytes());
        }
        out.println("cross-host faults:");
        for (ReportDocument.Fault f : section.faults()) {
            if (f.start() < 0) {
                out.printf(Locale.ROOT, "  %-12s %s: %s%n", f.kind(), f.target(), f.status());
                continue;
            }
            out.printf(Locale.ROOT, "  %-12s %s: %.1f s .. %s, %s; touched %d request(s) %s, the last ended %.0f ms after it began, "
                            + "the slowest took %.0f ms; first completion on an affected pair %s after it ended%n", f.kind(), f.target(),
                    f.start(), f.end() < 0 ? "(not ended)" : String.format(Locale.ROOT, "%.1f s", f.end()), f.status(), f.touched(),
                    f.touchedOutcomes(), f.lastEndedMsAfterStart(), f.slowestTouchedMs(),
                    f.recoveredMsAfterEnd() < 0 ? "NONE" : String.format(Locale.ROOT, "%.0f ms", f.recoveredMsAfterEnd()));
            if (f.othersCompleted() >= 0) {
                out.printf(Locale.ROOT, "  %-12s meanwhile the pairs it did not touch completed %d request(s)%n", "", f.othersCompleted());
            }
        }
    }
}
