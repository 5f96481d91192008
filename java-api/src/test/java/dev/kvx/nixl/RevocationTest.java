package dev.kvx.nixl;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.nixl.RevocationCases.InFlightOutcome;
import dev.kvx.nixl.RevocationCases.KillOutcome;
import dev.kvx.nixl.RevocationCases.Outcome;
import dev.kvx.nixl.RevocationCases.Setup;
import dev.kvx.nixl.RevocationCases.StopOutcome;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Which events make it impossible for a peer's NIXL WRITE to land in our memory? Real NIXL (UCX), writer
 * and target in two JVMs on one host, host memory. The target's buffer stays allocated in every case
 * (it is only deregistered), so a write that lands changes bytes we count instead of corrupting a JVM.
 *
 * <p>What this means for kvx (DESIGN.md, failure mode 10: quarantine until proof that no write can land):
 * <ul>
 *   <li><b>Revoking the registration is not proof on any transport tested here.</b> On {@code cma} the
 *       writer copies with {@code process_vm_writev} into our address space, and on {@code tcp} UCX emulates
 *       the put with active messages that the target's UCX copies to the address in the message; neither
 *       checks a registration on the target, so a WRITE posted after the deregistration lands completely,
 *       and a WRITE in flight at the deregistration finishes landing ({@code DONE}, every byte). Only a
 *       transport whose NIC checks the key (InfiniBand/RoCE {@code rc}/{@code dc}) could make revocation
 *       proof; none exists here, so kvx must not rely on it.</li>
 *   <li><b>The target invalidating the writer is not proof</b> on any transport: the writer keeps its own
 *       endpoint and keys, and its next WRITE lands.</li>
 *   <li><b>The writer's process being gone is proof, and the target learns it through NIXL except over
 *       shared memory without error handling.</b> With error handling {@code peer} (NIXL's default), and on
 *       {@code tcp} with {@code none} too, the target's first {@code sendNotification} to a killed (and
 *       reaped) writer fails ({@code nixl_capi_gen_notif}, -2) within tens of milliseconds, and no byte lands
 *       after that failure. With {@code ucx_error_handling_mode=none} over shared memory (cma, sysv/posix, no
 *       tcp lane) nothing fails: notifications to the dead writer are accepted, so the target never learns
 *       of the death through NIXL and must not wait for such a notice. The failure is not caused by the
 *       writer merely dropping the target ({@code invalidateRemote} on the writer side: notifications keep
 *       succeeding, checked by hand), but a writer that is alive can always load the metadata again and
 *       write with the old keys, so kvx may treat the failure as proof only if its own protocol never lets a
 *       writer resume an old session after its endpoint failed.</li>
 *   <li><b>A hung writer is neither noticed nor harmless</b> (and this is why a timer is never proof): a
 *       SIGSTOPped writer's endpoint stays healthy (notifications to it succeed for as long as we waited), and
 *       when it resumes, the rest of its WRITE lands, although the target deregistered meanwhile.</li>
 *   <li>On {@code cma} the copy runs inside the writer's post call ({@code process_vm_writev}): every byte
 *       is in place when the post returns, even where NIXL still reports IN_PROGRESS (error handling
 *       {@code peer}: UCX's flush completes later), so a cma write is never "in flight" at the target;
 *       what can land later is only what the writer has not posted yet.</li>
 * </ul>
 * The UCX lanes are asserted from UCX's own log ({@code UCX_LOG_LEVEL=info}, {@code UCX_PROTO_INFO=y});
 * with NIXL's defaults the lane summary says {@code rma_am(tcp/lo)}, but the protocol UCX selects for
 * {@code ucp_put*}, i.e. for a NIXL WRITE, is {@code cma/memory} zero-copy.
 *
 * <p>Every assertion holds on every run (checked by repeated runs). Two kinds depend on time, and are
 * written so that they hold every time: the in-flight case retries until the deregistration really
 * happened mid-write (a sample of the target buffer taken right after it shows bytes still missing
 * that are there at the end), and "not noticed" means within a 2 s window: nothing in UCX would notice
 * later (no keepalive without error handling; a stopped process keeps its sockets open), and 3 to 5 s
 * windows gave the same in the manual runs of {@link RevocationVramMain} with {@code dram}.
 */
class RevocationTest {
    /**
     * UCX over TCP only, for data; {@code cuda_copy} beside it because NIXL refuses a UCX_TLS without CUDA
     * support where a GPU is present ("Invalid UCX_TLS=tcp for NIXL UCX backend"); without a GPU UCX skips it.
     */
    static final String TCP_TLS = "tcp,cuda_copy";

    /** The transports tested: NIXL's UCX params and the UCX environment of both processes. */
    enum Transport {
        /** NIXL's defaults: error handling peer; lanes rma_am(tcp/lo), put via cma. */
        CMA_PEER("", Map.of(), "cma/memory", "ka(tcp/lo)", true),
        /** Error handling none: shared memory only (sysv/posix lanes, put via cma), no keepalive. */
        CMA_NONE("ucx_error_handling_mode=none", Map.of(), "cma/memory", "rma(sysv/memory posix/memory)", false),
        /** Forced TCP, error handling peer: put emulated over active messages on tcp/lo. */
        TCP_PEER("", Map.of("UCX_TLS", TCP_TLS), "tcp/lo", "rma_am(tcp/lo)", true),
        /** Forced TCP, error handling none. */
        TCP_NONE("ucx_error_handling_mode=none", Map.of("UCX_TLS", TCP_TLS), "tcp/lo", "rma_am(tcp/lo)", true);

        final String params;
        final Map<String, String> env;
        final String put;
        final String lane;
        /** Whether the target learns of the writer's death through a failing notification. */
        final boolean noticesDeath;

        Transport(String params, Map<String, String> extraEnv, String put, String lane, boolean noticesDeath) {
            this.params = params;
            Map<String, String> e = new LinkedHashMap<>(Map.of("UCX_LOG_LEVEL", "info", "UCX_PROTO_INFO", "y",
                    "UCX_NET_DEVICES", "lo"));
            e.putAll(extraEnv);
            this.env = Map.copyOf(e);
            this.put = put;
            this.lane = lane;
            this.noticesDeath = noticesDeath;
        }

        Setup setup() {
            return new Setup(name().toLowerCase(java.util.Locale.ROOT), "dram", params, env);
        }

        /** On cma the copy runs inside the writer's post. */
        boolean synchronousPut() {
            return put.startsWith("cma");
        }

        /** Checks UCX's choice; skips the test where this machine lacks the transport (e.g. cma without ptrace rights). */
        void assertLanes(List<String> lanes, Object detail) {
            assertTrue(lanes.stream().anyMatch(l -> l.startsWith("put host->host ")), () -> this + ": no put protocol in"
                    + " UCX's log: " + detail);
            Assumptions.assumeTrue(lanes.contains("put host->host 0..inf zero-copy " + put), () -> this + " needs " + put
                    + ", which UCX does not use on this machine: " + detail);
            assertTrue(lanes.stream().anyMatch(l -> l.startsWith("lanes ") && l.contains(lane)), () -> this + ": " + detail);
        }

        void assertLanes(Outcome o) {
            assertLanes(o.lanes(), o);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aWritePostedAfterTheTargetDeregisteredStillLands(Transport t) throws Exception {
        Outcome o = RevocationCases.writeAfterDeregister(t.setup());
        System.out.println("REVOCATION " + t + " write after deregister: " + o);
        t.assertLanes(o);
        assertTrue(o.reply().startsWith("OK DONE"), () -> t + ": " + o);
        assertTrue(o.landedFully(), () -> t + ": revocation stopped the write here, update RevocationTest: " + o);
        assertTrue(o.writerAlive(), () -> t + ": " + o);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aWriteInFlightWhenTheTargetDeregistersLandsCompletely(Transport t) throws Exception {
        InFlightOutcome f = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            f = RevocationCases.deregisterDuringWrite(t.setup());
            System.out.println("REVOCATION " + t + " deregister during a 256 MiB write: post '" + f.post() + "', target '"
                    + f.deregister() + "', " + f.end());
            if (t.synchronousPut() || f.inFlightAtDeregister()) {
                break;
            }
        }
        InFlightOutcome last = f;
        t.assertLanes(last.end());
        if (t.synchronousPut()) {
            // The cma copy runs inside the writer's post: all of it is there before the target can act,
            // whatever NIXL's status says (IN_PROGRESS with error handling peer: UCX's flush completes later).
            assertEquals(RevocationCases.SAMPLES, last.sampledBefore(), () -> t + ": the cma copy was still running after the"
                    + " post returned: " + last.deregister());
        } else {
            assertEquals("POSTED IN_PROGRESS", last.post(), t::toString);
            assertTrue(last.inFlightAtDeregister(), () -> t + ": three writes finished before the deregistration returned: "
                    + last.deregister());
        }
        assertTrue(last.end().reply().startsWith("OK DONE"), () -> t + ": " + last.end());
        assertTrue(last.end().landedFully(), () -> t + ": " + last.end());
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aWritePostedAfterTheTargetInvalidatedTheWriterStillLands(Transport t) throws Exception {
        Outcome o = RevocationCases.writeAfterTargetInvalidatesWriter(t.setup());
        System.out.println("REVOCATION " + t + " write after the target invalidated the writer: " + o);
        t.assertLanes(o);
        assertTrue(o.reply().startsWith("OK DONE"), () -> t + ": " + o);
        assertTrue(o.landedFully(), () -> t + ": " + o);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void afterTheWriterIsKilledNothingMoreLandsAndTheTargetNoticesUnlessSharedMemoryWithoutErrorHandling(Transport t)
            throws Exception {
        KillOutcome k = RevocationCases.killWriterDuringWrite(t.setup(), t.noticesDeath ? 3_000 : 2_000);
        System.out.println("REVOCATION " + t + " writer SIGKILLed during a 256 MiB write: target notice '" + k.notice()
                + "', landed " + k.landedAtNotice() + " B at the notice, " + k.landedLater() + " B 0.5 s later, lanes "
                + k.lanes());
        t.assertLanes(k.lanes(), k);
        if (t.noticesDeath) {
            assertTrue(k.noticed(), () -> t + ": " + k.notice());
            assertTrue(k.notice().endsWith("status -2 nixl_capi_gen_notif"), k::notice);
        } else {
            assertTrue(k.notice().startsWith("NO_FAILURE"), () -> t + ": the target now notices a dead writer: " + k.notice());
        }
        assertEquals(k.landedAtNotice(), k.landedLater(), () -> t + ": bytes landed after the writer died and was noticed");
        if (t.synchronousPut()) {
            assertEquals(k.bytes(), k.landedAtNotice(), t::toString);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aHungWriterIsNotNoticedAndItsWriteLandsWhenItResumesEvenAfterDeregistration(Transport t) throws Exception {
        StopOutcome k = RevocationCases.stopWriterDuringWrite(t.setup(), 2_000);
        System.out.println("REVOCATION " + t + " writer SIGSTOPped during a 256 MiB write: target notice '" + k.notice()
                + "', landed " + k.landedWhileStopped() + " B while stopped; after deregistration and SIGCONT " + k.end());
        t.assertLanes(k.end());
        assertTrue(k.notice().startsWith("NO_FAILURE"), () -> t + ": a stopped writer was noticed: " + k.notice());
        assertTrue(k.end().reply().startsWith("OK DONE"), () -> t + ": " + k.end());
        assertTrue(k.end().landedFully(), () -> t + ": " + k.end());
    }
}
