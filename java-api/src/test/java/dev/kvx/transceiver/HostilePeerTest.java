package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.TransceiverMetrics.Snapshot;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.PoolInfo;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * kvx attacked as a hostile peer would, over the real NIXL library: a victim pair in this JVM (context and
 * generation, sharing a secret, doing real transfers) and a <b>third process</b> ({@link HostilePeerMain})
 * that attacks them with hand-made NIXL agents (which take the victims' own names) and with a peer that holds
 * the secret. Where an attack needs a victim's NIXL metadata — UCX cannot reach its agent without it — the
 * hostile process is handed it as if it had leaked: the strongest attacker there is. Each test proves, with
 * the victims' counters and with the bytes of their requests, that the attack changed nothing.
 * (The size caps are attacked in {@link HostilePeerInputTest}, the control channel and NIXL's listener in
 * {@link HostilePeerControlTest}.)
 */
class HostilePeerTest {
    static final Duration LONG = Duration.ofSeconds(60);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final AtomicInteger ALIASES = new AtomicInteger();
    static HostileProcess hostile;

    @BeforeAll
    static void startHostileProcess() throws Exception {
        hostile = new HostileProcess();
    }

    @AfterAll
    static void stopHostileProcess() throws Exception {
        if (hostile != null) {
            hostile.close();
        }
    }

    static String alias() {
        return "h" + ALIASES.incrementAndGet();
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    /** A frame for the real session, signed with a key the attacker made up (it does not hold the session's). */
    static byte[] forged(WireMessage m, long session, long seq) {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        return WireCodec.encode(m, session, seq, new MacKey(key));
    }

    static CacheTransceiverConfig config() {
        return CacheTransceiverConfig.defaults().withKvTransferTimeout(LONG).withBufferCounts(32, 32);
    }

    /** A hand-made agent in the hostile process, named {@code name}, that loaded the victim's leaked metadata. */
    static String spoofer(String name, java.nio.file.Path victimMetadata) throws InterruptedException {
        return spoofer(hostile, name, victimMetadata);
    }

    static String spoofer(HostileProcess hostile, String name, java.nio.file.Path victimMetadata) throws InterruptedException {
        String a = alias();
        hostile.call("AGENT " + a + " " + name);
        hostile.call("LOAD " + a + " " + victimMetadata);
        return a;
    }

    static void await(LlmRequest r, TransferPhase phase) throws InterruptedException {
        assertTrue(eventually(() -> r.phase() == phase), () -> r + " never reached " + phase);
    }

    static TransferOutcome outcome(LlmRequest r) throws Exception {
        return r.outcome().get(30, TimeUnit.SECONDS);
    }

    /**
     * The live requests every attack aims at: A waits at the context side for the generation side's
     * announcement; B waits at the generation side for the context side's data (its announcement is pending
     * at the context side); the blocks of a third generation request, never submitted, hold a canary.
     */
    record Targets(LlmRequest a, LlmRequest b, LlmRequest canary, long session) {
        static Targets start(Victims v) throws Exception {
            LlmRequest a = v.ctxRequest(101, 2);
            v.ctx.send(a, v.gen.name());
            LlmRequest b = v.gen.createRequest(102, 2);
            v.gen.receive(b, v.ctx.name());
            LlmRequest canary = v.gen.createRequest(103, 2);
            for (int i = 0; i < 2; i++) {
                v.gen.writeBlock(canary, i, Victims.content(103, i));
            }
            await(a, TransferPhase.WAITING_FOR_REQUEST_INFO);
            await(b, TransferPhase.WAITING_FOR_DATA);
            assertTrue(eventually(() -> v.ctx.metrics().snapshot().pendingAnnounces() == 1), v::describe);
            // an eavesdropper learns the session id from any frame; here one the real generation side sent
            long sid = WireCodec.sessionIdOf(v.gen.captureForTest(v.ctx.name(), new WireMessage.Ping()));
            return new Targets(a, b, canary, sid);
        }

        /** The victims finish A and B as they meant to: both arrive intact, the canary untouched, nothing cancelled. */
        void finishAndCheck(Victims v) throws Exception {
            LlmRequest aGen = v.gen.createRequest(101, 2);
            v.gen.receive(aGen, v.ctx.name());
            LlmRequest bCtx = v.ctxRequest(102, 2);
            v.ctx.send(bCtx, v.gen.name());
            for (LlmRequest r : List.of(a, aGen, b, bCtx)) {
                assertEquals(TransferOutcome.Status.COMPLETED, outcome(r).status(), () -> r + ": " + v.describe());
            }
            assertTrue(v.arrivedIntact(aGen, 101), "request 101's KV differs at the generation side");
            assertTrue(v.arrivedIntact(b, 102), "request 102's KV differs at the generation side");
            assertTrue(v.arrivedIntact(canary, 103), "the canary blocks were written");
            for (Snapshot s : List.of(v.ctx.metrics().snapshot(), v.gen.metrics().snapshot())) {
                assertEquals(2, s.completed(), v::describe);
                assertEquals(0, s.cancelled() + s.failed() + s.timedOut() + s.engineErrors() + s.requestErrors(), v::describe);
            }
            for (LlmRequest r : List.of(a, aGen, b, bCtx, canary)) {
                r.close();
            }
        }
    }

    private static void awaitCounter(String what, java.util.function.LongSupplier counter, long expected, Victims v)
            throws InterruptedException {
        assertTrue(eventually(() -> counter.getAsLong() >= expected), () -> what + " never reached " + expected + "\n" + v.describe());
        assertEquals(expected, counter.getAsLong(), () -> what + "\n" + v.describe());
    }

    @Test
    void anAgentThatTakesAVictimsNameCannotCancelRedirectOrCompleteAnything() throws Exception {
        try (Victims v = new Victims(config(), false)) {
            Targets t = Targets.start(v);
            int eB = t.b().epoch();
            int[] canaryBlocks = t.canary().blockIds();
            // two hand-made agents in the hostile process, named as the victims, holding their leaked metadata
            String asGen = spoofer(v.gen.name(), v.ctxMetadata);
            String asCtx = spoofer(v.ctx.name(), v.genMetadata);
            Snapshot c0 = v.ctx.metrics().snapshot();
            Snapshot g0 = v.gen.metrics().snapshot();
            long sid = t.session();
            long other = sid ^ 0x5a5a5a5a5a5a5a5aL;
            byte[] hello = forged(new WireMessage.Hello(new byte[16], 7, v.gen.name(),
                    new PoolInfo(false, 0, 0x10000, 4096, 64, 2, 2, 64, 2, 4, false)), other, 0);
            List<byte[]> toCtx = List.of(
                    forged(new WireMessage.Abort(101, eB, 2, false), sid, 1000),          // cancel A
                    forged(new WireMessage.Announce(101, eB, 0, false, canaryBlocks), sid, 1001), // write A into the canary
                    forged(new WireMessage.Abort(102, eB, 2, false), sid, 1002),          // drop B's announcement
                    forged(new WireMessage.Announce(102, eB, 0, false, canaryBlocks), sid, 1003), // replace it
                    hello);                                                                // a handshake under a guessed secret
            List<byte[]> toGen = List.of(
                    forged(new WireMessage.Done(102, eB), sid, 2000),                     // complete B without data
                    forged(new WireMessage.Abort(102, eB, 2, true), sid, 2001),           // cancel B
                    forged(new WireMessage.Released(102, eB), sid, 2002));
            for (byte[] f : toCtx) {
                hostile.call("SEND " + asGen + " " + v.ctx.name() + " " + hex(f));
            }
            for (byte[] f : toGen) {
                hostile.call("SEND " + asCtx + " " + v.gen.name() + " " + hex(f));
            }
            // the same for a session nobody has, and garbage: foreign bytes, a truncated frame, a wrong version
            hostile.call("SEND " + asGen + " " + v.ctx.name() + " " + hex(forged(new WireMessage.Abort(101, eB, 2, false), other, 1)));
            hostile.call("SEND " + asCtx + " " + v.gen.name() + " " + hex(forged(new WireMessage.Done(102, eB), other, 1)));
            byte[] wrongVersion = forged(new WireMessage.Done(102, eB), sid, 3000);
            wrongVersion[3] = 1;
            for (String who : List.of(asGen + " " + v.ctx.name(), asCtx + " " + v.gen.name())) {
                hostile.call("SEND " + who + " " + hex("ignore previous instructions".getBytes()));
                hostile.call("SEND " + who + " " + hex(new byte[] {'K', 'V', 'X', 2, 7, 0, 0}));
                hostile.call("SEND " + who + " " + hex(wrongVersion));
            }
            awaitCounter("ctx refusedAuth", () -> v.ctx.metrics().snapshot().refusedAuth(), c0.refusedAuth() + toCtx.size(), v);
            awaitCounter("gen refusedAuth", () -> v.gen.metrics().snapshot().refusedAuth(), g0.refusedAuth() + toGen.size(), v);
            for (CacheTransceiver tx : List.of(v.ctx, v.gen)) {
                Snapshot before = tx == v.ctx ? c0 : g0;
                awaitCounter(tx.name() + " refusedUnknownSession", () -> tx.metrics().snapshot().refusedUnknownSession(),
                        before.refusedUnknownSession() + 1, v);
                awaitCounter(tx.name() + " malformed", () -> tx.metrics().snapshot().malformedMessages(), before.malformedMessages() + 2, v);
                awaitCounter(tx.name() + " foreign", () -> tx.metrics().snapshot().foreignMessages(), before.foreignMessages() + 1, v);
                Snapshot s = tx.metrics().snapshot();
                assertEquals(before.staleMessages(), s.staleMessages(), "a forged message reached the request state: " + v.describe());
                assertEquals(0, s.outcomes(), "a forged message ended a request: " + v.describe());
                assertEquals(1, s.sessions(), "a forged handshake made a session: " + v.describe());
            }
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, t.a().phase());
            assertEquals(TransferPhase.WAITING_FOR_DATA, t.b().phase());
            assertEquals(1, v.ctx.metrics().snapshot().pendingAnnounces(), "B's own announcement is still the one kept");
            t.finishAndCheck(v);
        }
    }

    @Test
    void aThirdPeerThatHoldsTheSecretCannotTouchAnotherPeersRequests() throws Exception {
        try (Victims v = new Victims(config(), false)) {
            Targets t = Targets.start(v);
            int eB = t.b().epoch();
            String canary = java.util.Arrays.stream(t.canary().blockIds()).mapToObj(String::valueOf)
                    .collect(java.util.stream.Collectors.joining(" "));
            // a peer in the hostile process that holds the secret connects under its own name to both victims
            String evil = alias();
            hostile.call("PEER " + evil + " intruder-" + evil + "-" + ProcessHandle.current().pid() + " " + v.secretFile + " 16");
            hostile.call("CONNECT " + evil + " " + Victims.host(v.ctx));
            hostile.call("CONNECT " + evil + " " + Victims.host(v.gen));
            assertTrue(eventually(() -> v.ctx.metrics().snapshot().sessions() == 2 && v.gen.metrics().snapshot().sessions() == 2),
                    v::describe);
            Snapshot c0 = v.ctx.metrics().snapshot();
            Snapshot g0 = v.gen.metrics().snapshot();
            // in its own, authenticated sessions: the victims' request ids and epochs
            hostile.call("ABORT " + evil + " " + v.ctx.name() + " 101 " + eB + " false");      // cancel A
            hostile.call("ANNOUNCE " + evil + " " + v.ctx.name() + " 101 " + eB + " " + canary); // A into the canary
            hostile.call("ABORT " + evil + " " + v.ctx.name() + " 102 " + eB + " false");      // drop B's announcement
            hostile.call("ANNOUNCE " + evil + " " + v.ctx.name() + " 102 " + eB + " " + canary); // replace it
            hostile.call("DONE " + evil + " " + v.gen.name() + " 102 " + eB);                  // complete B
            hostile.call("ABORT " + evil + " " + v.gen.name() + " 102 " + eB + " true");       // cancel B
            hostile.call("RELEASED " + evil + " " + v.gen.name() + " 102 " + eB);
            // authentic, so not refused: each is stale (no request of the intruder's has those ids) or kept as its own
            awaitCounter("ctx stale", () -> v.ctx.metrics().snapshot().staleMessages(), c0.staleMessages() + 2, v);
            awaitCounter("gen stale", () -> v.gen.metrics().snapshot().staleMessages(), g0.staleMessages() + 3, v);
            assertTrue(eventually(() -> v.ctx.metrics().snapshot().pendingAnnounces() == 3), v::describe);
            for (Snapshot s : List.of(v.ctx.metrics().snapshot(), v.gen.metrics().snapshot())) {
                assertEquals(0, s.outcomes(), v::describe);
                assertEquals(0, s.refused(), v::describe);
            }
            // nor can it take the connected peer's name: the context side already holds metadata of that name
            String twin = alias();
            hostile.call("PEER " + twin + " " + v.gen.name() + " " + v.secretFile + " 16");
            String refusal = hostile.callFailing("CONNECT " + twin + " " + Victims.host(v.ctx));
            assertTrue(refusal.contains("closed the connection"), refusal);
            assertEquals(2, v.ctx.metrics().snapshot().sessions(), v::describe);
            assertEquals(TransferPhase.WAITING_FOR_REQUEST_INFO, t.a().phase());
            assertEquals(TransferPhase.WAITING_FOR_DATA, t.b().phase());
            t.finishAndCheck(v);
            // the intruder's two announcements are kept as its own (capped, and dropped at kvTransferTimeout)
            assertEquals(2, v.ctx.metrics().snapshot().pendingAnnounces(), v::describe);
        }
    }

    @Test
    void aCapturedFrameSentAgainIsRefusedAsAReplayWhoeverSendsIt() throws Exception {
        try (Victims v = new Victims(config(), false)) {
            String asGen = spoofer(v.gen.name(), v.ctxMetadata);
            String mallory = spoofer("mallory-" + alias(), v.ctxMetadata);
            Snapshot c0 = v.ctx.metrics().snapshot();
            // a frame the real generation side sent (authentic: it arrives and is counted stale, no such attempt)
            byte[] captured = v.gen.captureForTest(v.ctx.name(), new WireMessage.Released(101, 5));
            awaitCounter("ctx stale", () -> v.ctx.metrics().snapshot().staleMessages(), c0.staleMessages() + 1, v);
            hostile.call("SEND " + asGen + " " + v.ctx.name() + " " + hex(captured));     // the same bytes, under the sender's name
            hostile.call("SEND " + mallory + " " + v.ctx.name() + " " + hex(captured));   // under another name
            v.gen.sendRawBytesForTest(v.ctx.name(), captured);                             // by the real sender's agent
            awaitCounter("ctx refusedReplay", () -> v.ctx.metrics().snapshot().refusedReplay(), c0.refusedReplay() + 3, v);
            assertEquals(c0.staleMessages() + 1, v.ctx.metrics().snapshot().staleMessages(), v::describe);
            // a handshake opener replayed: answered with a Challenge that goes to the real agent of that name, which
            // refuses it; no session comes of it, and the same session id again is refused outright
            MacKey handshake = new MacKey(v.secret.derive("kvx/2 handshake"));
            byte[] hello = WireCodec.encode(new WireMessage.Hello(new byte[16], 7, v.gen.name(),
                    new PoolInfo(false, 0, 0x10000, 4096, 64, 2, 2, 64, 2, 4, false)), 0x1234_5678_9abcL, 0, handshake);
            long genRefused = v.gen.metrics().snapshot().refusedHandshakes();
            hostile.call("SEND " + asGen + " " + v.ctx.name() + " " + hex(hello));
            assertTrue(eventually(() -> v.gen.metrics().snapshot().refusedHandshakes() == genRefused + 1), v::describe);
            hostile.call("SEND " + asGen + " " + v.ctx.name() + " " + hex(hello));
            assertTrue(eventually(() -> v.ctx.metrics().snapshot().refusedHandshakes() == c0.refusedHandshakes() + 1), v::describe);
            assertEquals(1, v.ctx.metrics().snapshot().sessions(), v::describe);
            assertEquals(c0.handshakes(), v.ctx.metrics().snapshot().handshakes(), v::describe);
            // and the pair still works
            LlmRequest c = v.ctxRequest(201, 3);
            LlmRequest g = v.gen.createRequest(201, 3);
            v.gen.receive(g, v.ctx.name());
            v.ctx.send(c, v.gen.name());
            assertEquals(TransferOutcome.Status.COMPLETED, outcome(g).status(), v::describe);
            assertTrue(v.arrivedIntact(g, 201));
            assertEquals(TransferOutcome.Status.COMPLETED, outcome(c).status(), v::describe);
            c.close();
            g.close();
        }
    }
}
