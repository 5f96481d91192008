package dev.kvx.cli.soak;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A deterministic report document for the JSON and browser tests, with hostile text in it. */
final class ReportSamples {
    /** Text that breaks hand-built JSON and unescaped HTML. */
    static final String HOSTILE = "worker \"gen-2\"\nsaid: </script><script>alert(1)</script> & <b>bold</b> \u2028 done";

    private ReportSamples() {}

    static ReportDocument sample() {
        Map<String, Object> params = new TreeMap<>();
        params.put("timeoutMs", 3000L);
        params.put("blockBytes", 458752L);
        params.put("poolBlocks", 416L);
        params.put("buffers", 4L);
        params.put("faults", Map.of("silent-gen", 0.01));
        params.put("note", HOSTILE);
        Map<String, Object> invariants = new LinkedHashMap<>();
        invariants.put("requests", 240L);
        invariants.put("requestsWithoutOutcome", 0L);
        invariants.put("killedContextOutcomes", "{FAILED=12}");
        List<ReportDocument.PhaseFigures> phases = new ArrayList<>();
        String[] names = {"WARMUP", "BURST", "IDLE", "PROBES"};
        long[][] outcomes = {{20, 1, 0, 1}, {180, 6, 1, 12}, {0, 0, 0, 0}, {5, 0, 0, 0}};
        for (int i = 0; i < names.length; i++) {
            Map<String, Long> o = new LinkedHashMap<>();
            o.put("COMPLETED", outcomes[i][0]);
            o.put("TIMED_OUT", outcomes[i][1]);
            o.put("CANCELLED", outcomes[i][2]);
            o.put("FAILED", outcomes[i][3]);
            o.put("KILLED", i == 1 ? 9L : 0L);
            phases.add(new ReportDocument.PhaseFigures(names[i], o, new ReportDocument.Percentiles(outcomes[i][0], 9.4, 320.5, 730.1),
                    5, outcomes[i][0] / 5.0, 0.1, new ReportDocument.Percentiles(1, 4, 4.1, 4.2)));
        }
        List<ReportDocument.Event> events = List.of(new ReportDocument.Event(0.9, "phase", "WARMUP starts"),
                new ReportDocument.Event(5.9, "phase", "BURST starts"), new ReportDocument.Event(12.0, "kill", HOSTILE),
                new ReportDocument.Event(14.1, "restart", "new generation worker soak-gen-2 connected"),
                new ReportDocument.Event(30.9, "phase", "IDLE starts"), new ReportDocument.Event(35.9, "phase", "PROBES starts"));
        List<ReportDocument.Sample> timeline = new ArrayList<>();
        long completed = 0;
        long timedOut = 0;
        for (int t = 1; t <= 37; t++) {
            boolean burst = t > 6 && t <= 31;
            long done = burst ? 7 + t % 3 : t <= 6 ? 4 : 0;
            completed += done;
            timedOut += burst && t % 5 == 0 ? 1 : 0;
            ReportDocument.Percentiles lat = done == 0 ? ReportDocument.Percentiles.NONE
                    : new ReportDocument.Percentiles(done, 8 + t % 4, 40 + 10 * (t % 7), 90 + t);
            Map<String, Long> faults = t % 4 == 0 ? Map.of("no-ack", 1L, "exception", (long) (t % 3)) : Map.of();
            timeline.add(new ReportDocument.Sample(t, burst ? "BURST" : "WARMUP", burst ? 16 : 2, completed, timedOut, 0, t > 12 ? 12 : 0,
                    t > 12 ? 9 : 0, lat, faults, burst ? 4 : 1, burst ? 3 : 1, 300 - (burst ? 120 : 0), 290, 416));
        }
        return new ReportDocument(true, params, invariants, phases, events, timeline, null, null, null);
    }

    /** The sample of a run across hosts: hosts, peers, lanes, pairs and faults, with hostile text in a fault's status. */
    static ReportDocument sampleWithHosts() {
        ReportDocument d = sample();
        List<ReportDocument.Event> events = new ArrayList<>(d.events());
        events.add(new ReportDocument.Event(9.0, "fault", "cut-link h1@8:2: h1's link down [decode-0]"));
        events.add(new ReportDocument.Event(11.0, "heal", "cut-link h1@8:2: h1's link restored"));
        ReportDocument.Hosts hosts = new ReportDocument.Hosts("http://10.231.0.4:2379 in host etcd (kvx1.1-etcd)", "/kvx/soak/1",
                "UCX_TLS=tcp",
                List.of(new ReportDocument.Host("h0", "kvx1.1-h0", "10.231.0.1", "prefill-0 prefill-1"),
                        new ReportDocument.Host("h1", "kvx1.1-h1", "10.231.0.2", "decode-0"),
                        new ReportDocument.Host("etcd", "kvx1.1-etcd", "10.231.0.4", "etcd")),
                List.of(new ReportDocument.Peer("prefill-0", "prefill", "h0", "10.231.0.1", 1, List.of("decode-0")),
                        new ReportDocument.Peer("decode-0", "decode", "h1", "10.231.0.2", 2, List.of("prefill-0", "prefill-1"))),
                Map.of("decode-0", List.of("inter-node cfg#1: am(tcp/eth0)", "KV data (ucp_put, inter-node cfg#1): zero-copy tcp/eth0")),
                List.of(new ReportDocument.Fault("cut-link", "h1 [decode-0]", 9.0, 11.0, "done", 12, new TreeMap<>(Map.of("TIMED_OUT", 8L, "COMPLETED", 4L)),
                                3100, 3050, 420, 57),
                        new ReportDocument.Fault("delay", "h1 [decode-0]", -1, -1, "unsupported on this kernel: " + HOSTILE, 0, Map.of(),
                                -1, -1, -1, -1)),
                List.of(new ReportDocument.Pair("prefill-0", "decode-0", 300, 290, 1.25)));
        return new ReportDocument(d.ok(), d.parameters(), d.invariants(), d.phases(), events, d.timeline(), hosts, null, null);
    }
}
