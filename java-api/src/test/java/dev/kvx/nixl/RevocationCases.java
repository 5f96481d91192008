package dev.kvx.nixl;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The revocation experiments, each on a fresh {@link RevocationRig} (writer and target in two JVMs):
 * what a writer's NIXL WRITE does after the target deregistered the memory, after the target
 * invalidated the writer, and what the target sees after the writer's process was killed mid-WRITE.
 * and what it sees of a writer that hangs (SIGSTOP) mid-WRITE. The target's memory stays allocated throughout, so a write that lands only changes its bytes.
 * {@link RevocationTest} asserts the results; {@link RevocationVramMain} prints them.
 */
final class RevocationCases {
    static final long SMALL = 4L << 20;
    static final long LARGE = 256L << 20;

    /** The settings of one run: memory ({@code dram} / {@code vram:N}), UCX backend params, UCX env. */
    record Setup(String tag, String memory, String ucxParams, Map<String, String> env) {}

    /**
     * What one case observed.
     *
     * @param reply the writer's reply to its WRITE (or AWAIT): {@code OK DONE ...}, {@code ERR <status> ...}
     * @param landed bytes of the writer's value found in the target's buffer afterwards
     * @param bytes bytes the WRITE carried
     * @param lanes UCX's lane lines of the writer (with {@code UCX_LOG_LEVEL=info})
     * @param writerAlive whether the writer process still ran after the WRITE (false: it crashed)
     */
    record Outcome(String reply, long landed, long bytes, List<String> lanes, boolean writerAlive) {
        boolean landedFully() {
            return landed == bytes;
        }

        boolean refused() {
            return reply.startsWith("ERR");
        }

        @Override
        public String toString() {
            return "writer replied '" + RevocationRig.abbreviate(reply) + "', " + landed + " of " + bytes + " B landed"
                    + (writerAlive ? "" : ", writer process died") + ", lanes " + lanes;
        }
    }

    /**
     * What the target saw after the writer was SIGKILLed during a large WRITE.
     *
     * @param notice the target's {@code NOTIFY_UNTIL_FAIL} reply: {@code FAILED after N ms ...} or {@code NO_FAILURE ...}
     * @param landedAtNotice bytes of the write in the target's buffer right after the notice (or its deadline)
     * @param landedLater the same, measured again after another half second of target progress
     */
    record KillOutcome(String notice, long landedAtNotice, long landedLater, long bytes, List<String> lanes) {
        boolean noticed() {
            return notice.startsWith("FAILED");
        }
    }

    private RevocationCases() {}

    static RevocationRig rig(Setup s, String caseTag, long bytes) throws IOException {
        return new RevocationRig(s.tag() + "-" + caseTag, bytes, s.memory(), s.ucxParams(), s.env());
    }

    /** A control: a WRITE between registered memory lands completely. */
    static Outcome baseline(Setup s) throws IOException {
        try (RevocationRig r = rig(s, "base", SMALL)) {
            return writeOnce(r, "11", SMALL);
        }
    }

    /** Case 1a: the target deregisters; the writer, holding the old metadata, WRITEs afterwards. */
    static Outcome writeAfterDeregister(Setup s) throws IOException {
        try (RevocationRig r = rig(s, "dereg", SMALL)) {
            r.target.ok("DEREG", 10_000);
            return writeOnce(r, "22", SMALL);
        }
    }

    /**
     * Case 1b: a large WRITE is posted, then the target deregisters while it may still be in flight.
     *
     * @param post the writer's reply to POST: {@code POSTED DONE} when the transport finished inside the post
     * @param deregister the target's reply to DEREG, with 4096 evenly spread bytes sampled for the
     *     write's value just before and just after the deregistration
     * @param sampledBefore how many of those 4096 held the write's value just before the deregistration
     *     (4096: the write had landed before the target could act)
     * @param sampledAfter how many held it right after the deregistration returned: below 4096 with the
     *     whole write landed at the end means bytes landed after it
     */
    record InFlightOutcome(String post, String deregister, int sampledBefore, int sampledAfter, Outcome end) {
        boolean inFlightAtDeregister() {
            return sampledAfter < SAMPLES;
        }
    }

    static final int SAMPLES = 4096;
    private static final Pattern SAMPLED = Pattern.compile("before (\\d+)/" + SAMPLES + " after (\\d+)/" + SAMPLES);

    /** Case 1b, see {@link InFlightOutcome}. */
    static InFlightOutcome deregisterDuringWrite(Setup s) throws IOException {
        try (RevocationRig r = rig(s, "dereg-inflight", LARGE)) {
            r.writer.ok("FILL 33", 30_000);
            String post = r.writer.ok(r.post(LARGE), 10_000);
            String dereg = r.target.ok("DEREG 33", 10_000);
            Matcher m = SAMPLED.matcher(dereg);
            if (!m.find()) {
                throw new IllegalStateException("unexpected DEREG reply " + dereg);
            }
            String reply = r.writer.call("AWAIT 20000", 30_000);
            return new InFlightOutcome(post, dereg, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    new Outcome(reply, r.targetCount("33"), LARGE, r.writer.lanes(), r.writer.process.isAlive()));
        }
    }

    /** Case 2: the target invalidates the writer's metadata; the writer WRITEs afterwards. */
    static Outcome writeAfterTargetInvalidatesWriter(Setup s) throws IOException {
        try (RevocationRig r = rig(s, "invalidate", SMALL)) {
            r.targetKnowsWriter();
            Outcome warm = writeOnce(r, "11", SMALL); // the connection is in use before the target drops it
            if (!warm.landedFully()) {
                throw new IllegalStateException("control write did not land: " + warm);
            }
            r.target.ok("INVALIDATE " + r.writer.name, 10_000);
            return writeOnce(r, "44", SMALL);
        }
    }

    /**
     * Case 3: the writer is SIGKILLed while a large WRITE is in flight; the target then notifies it
     * until NIXL refuses (or {@code noticeMs} passes), and checks whether more bytes land afterwards.
     */
    static KillOutcome killWriterDuringWrite(Setup s, long noticeMs) throws IOException, InterruptedException {
        try (RevocationRig r = rig(s, "kill", LARGE)) {
            r.targetKnowsWriter();
            r.writer.ok("FILL 55", 30_000);
            r.writer.ok(r.post(LARGE), 10_000);
            List<String> lanes = r.writer.lanes();
            r.writer.process.destroyForcibly(); // SIGKILL
            if (!r.writer.process.waitFor(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the writer survived SIGKILL");
            }
            String notice = r.target.ok("NOTIFY_UNTIL_FAIL " + r.writer.name + " " + noticeMs, noticeMs + 10_000);
            long atNotice = r.targetCount("55");
            Thread.sleep(500); // the target's progress thread keeps running meanwhile
            r.target.ok("NOTIFS", 10_000);
            long later = r.targetCount("55");
            return new KillOutcome(notice, atNotice, later, LARGE, lanes);
        }
    }

    /**
     * What the target saw of a writer that hung (SIGSTOP) during a large WRITE.
     *
     * @param notice the target's {@code NOTIFY_UNTIL_FAIL} reply while the writer was stopped
     * @param landedWhileStopped bytes of the write in the target's buffer while the writer was stopped
     * @param end the writer's WRITE after SIGCONT; the target deregistered before the writer resumed
     */
    record StopOutcome(String notice, long landedWhileStopped, Outcome end) {}

    /**
     * Case 4 (a hung writer, the reason a timer is never proof): the writer is SIGSTOPped during a
     * large WRITE; the target notifies it until {@code noticeMs} passes, counts what landed, deregisters,
     * then the writer gets SIGCONT and its WRITE runs to its end.
     */
    static StopOutcome stopWriterDuringWrite(Setup s, long noticeMs) throws IOException, InterruptedException {
        try (RevocationRig r = rig(s, "stop", LARGE)) {
            r.targetKnowsWriter();
            r.writer.ok("FILL 77", 30_000);
            r.writer.ok(r.post(LARGE), 10_000);
            signal("STOP", r.writer.process);
            try {
                String notice = r.target.ok("NOTIFY_UNTIL_FAIL " + r.writer.name + " " + noticeMs, noticeMs + 10_000);
                long whileStopped = r.targetCount("77");
                r.target.ok("DEREG", 10_000);
                signal("CONT", r.writer.process);
                String reply = r.writer.call("AWAIT 20000", 30_000);
                return new StopOutcome(notice, whileStopped,
                        new Outcome(reply, r.targetCount("77"), LARGE, r.writer.lanes(), r.writer.process.isAlive()));
            } finally {
                signal("CONT", r.writer.process);
            }
        }
    }

    /** Sends SIGSTOP/SIGCONT to a child this test started (ProcessHandle has no such call). */
    private static void signal(String name, Process child) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(child.pid())).inheritIO().start();
        if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new IllegalStateException("kill -" + name + " " + child.pid() + " failed");
        }
    }

    private static Outcome writeOnce(RevocationRig r, String hex, long bytes) {
        r.writer.ok("FILL " + hex, 30_000);
        String reply = r.writer.call(r.write(bytes, 5_000), 15_000);
        return new Outcome(reply, r.targetCount(hex), bytes, r.writer.lanes(), r.writer.process.isAlive());
    }
}
