package dev.kvx.cli.soak;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The report's hostile-peer section ({@code kvx soak --hostile-peer}): what the hostile process sent, by
 * attack; what each worker refused, by counter (its own metrics); what was accepted (a control-channel
 * leak or hang, metadata fetched, a session the hostile peer got); and the requests it affected, counted
 * against what the soak's own fault plan predicts: a request no fault touches must complete (or be refused
 * at admission for a reason the plan explains: a full pool, or a peer held unhealthy by a faulted request's
 * owed proof); none may end corrupt, half-completed or without an outcome. Beside them: data landed in free
 * blocks, slots or blocks held at exit, exceptions outside request handling. The section is OK only when
 * all of these are 0.
 */
final class HostileReport {
    /** One attack: its label and the DONE fields that count it. */
    private record Attack(String label, List<String> sentFields) {}

    /** Attacks that the same worker counters refuse: every one of them that arrives adds one to their sum. */
    private record Group(List<String> refusedAs, List<Attack> attacks) {}

    private static final List<Group> GROUPS = List.of(
            new Group(List.of("refusedUnknownSession"), List.of(
                    new Attack("forged Abort/Announce/Done/Released for sessions it cannot know, under the workers' names and its own",
                            List.of("abort", "announce", "done", "released")),
                    new Attack("flood: announcements of 4,096 blocks, 1,000 at once", List.of("flood")))),
            new Group(List.of("refusedAuth"), List.of(
                    new Attack("handshakes signed under a guessed secret", List.of("hello")),
                    new Attack("captured frames with one bit flipped (wrong MAC), under the sender's name", List.of("tampered")),
                    new Attack("Aborts forged in a real session under the sender's name (made-up key)", List.of("session_forged")))),
            new Group(List.of("refusedReplay", "refusedHandshakes"), List.of(
                    new Attack("captured frames sent again under the sender's name (replays)", List.of("replayed")))),
            new Group(List.of("foreignMessages", "malformedMessages"), List.of(
                    new Attack("garbage (some starting like kvx)", List.of("garbage")))),
            new Group(List.of("refusedOversize"), List.of(
                    new Attack("oversized notifications (over the 512 KiB cap)", List.of("oversized")))),
            new Group(List.of("refusedControl"), List.of(
                    new Attack("control channel: another secret asking for the metadata, junk, a false proof, an absurd length",
                            List.of("control")),
                    new Attack("NIXL metadata fetches at the control channels", List.of("fetchAskedControl")))),
            new Group(List.of(), List.of(
                    new Attack("NIXL metadata fetches at the workers' other ports (UCX's listeners) and 8888: the metadata must not arrive",
                            List.of("fetchAsked")))));
    private static final List<String> COUNTERS = List.of("refusedUnknownSession", "refusedAuth", "refusedReplay", "refusedHandshakes",
            "refusedOversize", "refusedControl", "refusedPendingCap", "refusedPeerCap", "foreignMessages", "malformedMessages", "staleMessages");

    private final SoakOptions o;
    private final Map<String, Long> sent = new LinkedHashMap<>();
    private final int exitStatus;
    private final boolean secretGiven;
    private final Map<String, Map<String, Long>> figures;
    private final Map<String, String> listening;
    private final long goNanos;
    private final long endNanos;
    private final long generationWorkers;
    private boolean ok;

    HostileReport(SoakOptions o, String doneLine, boolean secretGiven, int exitStatus, Map<String, Map<String, Long>> figures, Map<String, String> listening,
                  long goNanos, long endNanos, long generationWorkers) {
        this.o = o;
        this.exitStatus = exitStatus;
        this.secretGiven = secretGiven;
        this.figures = figures;
        this.listening = listening;
        this.goNanos = goNanos;
        this.endNanos = endNanos;
        this.generationWorkers = generationWorkers;
        for (String f : doneLine.split(" ")) {
            int eq = f.indexOf('=');
            if (eq > 0) {
                try {
                    sent.put(f.substring(0, eq), Long.parseLong(f.substring(eq + 1)));
                } catch (NumberFormatException e) {
                    // victims=…, seconds=…: not counts
                }
            }
        }
    }

    private long sent(String field) {
        return sent.getOrDefault(field, 0L);
    }

    private static long of(Map<String, Long> m, String k) {
        return Math.max(0, m.getOrDefault(k, 0L));
    }

    /** Whether the attack changed nothing (after {@link #write}). */
    boolean ok() {
        return ok;
    }

    /** Why a request's outcome is not what the fault plan predicts, or null if it is. */
    static String affected(SoakRequest r, SoakFaults plan) {
        String outcome = r.outcome();
        switch (outcome) {
            case "NONE", "CORRUPT", "INCONSISTENT" -> {
                return outcome;
            }
            case "KILLED", "COMPLETED" -> {
                return null; // the kill is the soak's own; completed requests were verified
            }
            default -> { }
        }
        if (!plan.untouched(r.id)) {
            return null; // a fault of the plan hits it: any outcome may follow
        }
        if (outcome.equals("REJECTED")) {
            String why = r.ctx.status().equals("REJECTED") ? r.ctx.why() : r.gen.why();
            if (why.equals("pool") || why.equals("unhealthy") && plan.injectsAny()) {
                return null; // admission: a full pool, or a peer that owes a faulted request's proof
            }
            return "REJECTED (" + (why.isEmpty() ? "?" : why) + ")";
        }
        return outcome + " in " + r.gen.phase() + " (no fault planned)";
    }

    /** The section as {@code report.html}'s template shows it (from {@link #write}'s map, or the same read back from JSON); null for none. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> view(Map<String, Object> section) {
        if (section == null) {
            return null;
        }
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("ok", Boolean.TRUE.equals(section.get("ok")));
        v.put("summary", String.format(Locale.ROOT, "A third process %s attacked both workers for %s s of the burst. "
                + "Requests affected: %s of %s (%s submitted while it attacked); untouched by the fault plan, by outcome: %s.",
                Boolean.TRUE.equals(section.get("secretGiven")) ? "WITH A SECRET IN ITS ENVIRONMENT" : "without the secret",
                section.get("seconds"), section.get("requestsAffected"), section.get("requests"), section.get("requestsInAttackWindow"),
                section.get("requestsUntouchedByFaults")));
        List<Map<String, Object>> attacks = new ArrayList<>();
        for (Map<String, Object> g : (List<Map<String, Object>>) section.getOrDefault("groups", List.of())) {
            List<String> as = (List<String>) g.getOrDefault("refusedAs", List.of());
            attacks.add(Map.of("attack", as.isEmpty() ? "(no counter)" : String.join(" + ", as), "sent", String.valueOf(g.get("sent")),
                    "refused", as.isEmpty() ? "-" : String.valueOf(g.get("refused")), "group", true));
            for (Map<String, Object> a : (List<Map<String, Object>>) g.getOrDefault("attacks", List.of())) {
                attacks.add(Map.of("attack", String.valueOf(a.get("attack")), "sent", String.valueOf(a.get("sent")), "refused", "", "group", false));
            }
        }
        v.put("attacks", attacks);
        Map<String, Map<String, Object>> by = (Map<String, Map<String, Object>>) section.getOrDefault("refusedBy", Map.of());
        v.put("workers", List.copyOf(by.keySet()));
        List<Map<String, Object>> counters = new ArrayList<>();
        for (String c : COUNTERS) {
            counters.add(Map.of("name", c, "cells", by.values().stream().map(m -> String.valueOf(m.getOrDefault(c, 0))).toList()));
        }
        v.put("counters", counters);
        List<Map<String, String>> facts = new ArrayList<>();
        for (String k : List.of("accepted", "damage", "listening", "affected")) {
            facts.add(Map.of("name", k, "value", String.valueOf(section.get(k))));
        }
        v.put("facts", facts);
        return v;
    }

    /** Prints the section and returns it for {@code report.json}. */
    Map<String, Object> write(PrintWriter out, List<SoakRequest> requests) {
        SoakFaults plan = new SoakFaults(o.faults, o.seed, true, Duration.ZERO);
        long from = goNanos - o.timeoutMs * 1_000_000L;
        long inWindow = requests.stream().filter(r -> r.submitNanos >= from && r.submitNanos <= endNanos).count();
        List<String> affected = new ArrayList<>();
        for (SoakRequest r : requests) {
            String why = affected(r, plan);
            if (why != null) {
                affected.add("request " + r.id + " (" + r.phase + "): " + why);
            }
        }
        Map<String, Long> accepted = new LinkedHashMap<>();
        accepted.put("controlExchangesLeaked", sent("controlLeaked"));
        accepted.put("controlConnectionsHung", sent("controlHung"));
        accepted.put("metadataFetched", sent("fetchGot"));
        long sessions = 0;
        Map<String, Long> damage = new LinkedHashMap<>();
        damage.put("writesIntoFreeBlocks", 0L);
        damage.put("slotsHeldAtExit", 0L);
        damage.put("blocksLeaked", 0L);
        damage.put("engineErrors", 0L);
        for (Map.Entry<String, Map<String, Long>> e : figures.entrySet()) {
            Map<String, Long> f = e.getValue();
            boolean ctx = e.getKey().equals(figures.keySet().iterator().next());
            sessions += Math.max(0, of(f, "handshakes") - (ctx ? generationWorkers : 1)); // the workers' own connections
            damage.merge("writesIntoFreeBlocks", of(f, "freeBlockWrites"), Long::sum);
            if (f.containsKey("allocated")) { // BYE: a worker that ended normally (a killed one's last STAT holds what it had then)
                damage.merge("slotsHeldAtExit", of(f, "slots"), Long::sum);
                damage.merge("blocksLeaked", of(f, "capacity") - of(f, "freeBlocks") - of(f, "quarantined"), Long::sum);
            }
            damage.merge("engineErrors", of(f, "engineErrors"), Long::sum);
        }
        accepted.put("hostileSessions", sessions);
        accepted.put("hostileExitStatus", exitStatus > 0 ? (long) exitStatus : 0L);
        long damageTotal = damage.values().stream().mapToLong(Long::longValue).sum();
        long totalSent = 0;
        long notRefused = 0;
        List<Map<String, Object>> groups = new ArrayList<>();
        for (Group g : GROUPS) {
            long refused = 0;
            for (Map<String, Long> f : figures.values()) {
                refused += g.refusedAs().stream().mapToLong(k -> of(f, k)).sum();
            }
            long groupSent = 0;
            List<Map<String, Object>> attacks = new ArrayList<>();
            for (Attack a : g.attacks()) {
                long n = a.sentFields().stream().mapToLong(this::sent).sum();
                if (a.sentFields().equals(List.of("fetchAsked"))) {
                    n -= sent("fetchAskedControl");
                }
                groupSent += n;
                attacks.add(Map.of("attack", a.label(), "sent", n));
            }
            totalSent += groupSent;
            notRefused += g.refusedAs().isEmpty() ? 0 : Math.max(0, groupSent - refused);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("refusedAs", g.refusedAs());
            row.put("sent", groupSent);
            row.put("refused", refused);
            row.put("attacks", attacks);
            groups.add(row);
        }
        if (generationWorkers == 1) { // with no worker killed, every message sent arrives, and each one is refused once
            accepted.put("messagesNotRefused", notRefused);
        }
        long acceptedTotal = accepted.values().stream().mapToLong(Long::longValue).sum();
        ok = !sent.isEmpty() && !secretGiven && totalSent > 0 && affected.isEmpty() && acceptedTotal == 0 && damageTotal == 0;
        Map<String, Long> untouched = new java.util.TreeMap<>();
        requests.stream().filter(r -> plan.untouched(r.id)).forEach(r -> untouched.merge(!r.outcome().equals("REJECTED") ? r.outcome()
                : "REJECTED(" + (r.ctx.status().equals("REJECTED") ? r.ctx.why() : r.gen.why()) + ")", 1L, Long::sum));
        long untouchedCount = untouched.values().stream().mapToLong(Long::longValue).sum();

        double seconds = (endNanos - goNanos) / 1e9;
        out.printf(Locale.ROOT, "hostile peer: a third process %s attacked both workers for %.1f s of the burst"
                + " (%,d messages and attempts)%n", secretGiven ? "WITH A SECRET IN ITS ENVIRONMENT" : "without the secret", seconds, totalSent);
        out.printf(Locale.ROOT, "  %-104s %9s %9s%n", "sent, by the worker counters that refuse it", "sent", "refused");
        for (Map<String, Object> g : groups) {
            @SuppressWarnings("unchecked")
            List<String> as = (List<String>) g.get("refusedAs");
            out.printf(Locale.ROOT, "  %-104s %,9d %9s%n", as.isEmpty() ? "(no counter)" : String.join(" + ", as), (Long) g.get("sent"),
                    as.isEmpty() ? "-" : String.format(Locale.ROOT, "%,d", (Long) g.get("refused")));
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> attacks = (List<Map<String, Object>>) g.get("attacks");
            for (Map<String, Object> a : attacks) {
                out.printf(Locale.ROOT, "    %-102s %,9d%n", a.get("attack"), (Long) a.get("sent"));
            }
        }
        out.printf(Locale.ROOT, "  not delivered (receiver gone or restarting): %,d forged, %,d captured%n", sent("sendFailures"),
                sent("wireUnreachable"));
        if (generationWorkers > 1) {
            out.println("  (a worker was killed: frames of its dead session reach the others as unknown sessions, and what reached it in"
                    + " its last moments is not in its last STAT, so the sums per counter move)");
        }
        Map<String, Map<String, Long>> refusedBy = new LinkedHashMap<>();
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "  %-22s", "refused by (counter)"));
        figures.keySet().forEach(w -> head.append(String.format(Locale.ROOT, " %12s", w)));
        out.println(head);
        for (String c : COUNTERS) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-22s", c));
            for (Map.Entry<String, Map<String, Long>> e : figures.entrySet()) {
                refusedBy.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>()).put(c, of(e.getValue(), c));
                line.append(String.format(Locale.ROOT, " %,12d", of(e.getValue(), c)));
            }
            out.println(line);
        }
        out.printf(Locale.ROOT, "  accepted: %d %s; damage: %d %s%n", acceptedTotal, accepted, damageTotal, damage);
        listening.forEach((w, l) -> out.printf(Locale.ROOT, "  %s listens on: %s%n", w, l));
        out.printf(Locale.ROOT, "  the fault plan: %d of %d requests untouched by any fault, which must complete (or be refused at admission"
                + " for a reason the plan explains): %s; the others may end any way but corrupt or without an outcome%n",
                untouchedCount, requests.size(), untouched);
        out.printf(Locale.ROOT, "  requests affected: %d of %d (%d submitted while it attacked, or within kvTransferTimeout before)%s%n",
                affected.size(), requests.size(), inWindow, affected.isEmpty() ? "" : ": " + String.join("; ", affected.subList(0, Math.min(10, affected.size()))));

        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("ok", ok);
        doc.put("secretGiven", secretGiven);
        doc.put("seconds", Math.round(seconds * 10) / 10.0);
        doc.put("groups", groups);
        doc.put("sentFields", sent);
        doc.put("refusedBy", refusedBy);
        doc.put("accepted", accepted);
        doc.put("damage", damage);
        doc.put("listening", listening);
        doc.put("requests", requests.size());
        doc.put("requestsInAttackWindow", inWindow);
        doc.put("requestsUntouchedByFaults", untouched);
        doc.put("requestsAffected", affected.size());
        doc.put("affected", affected.subList(0, Math.min(100, affected.size())));
        return doc;
    }
}
