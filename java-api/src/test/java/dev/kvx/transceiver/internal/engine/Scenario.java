package dev.kvx.transceiver.internal.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.TransferMode;
import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.engine.EngineHarness.Req;
import dev.kvx.transceiver.internal.engine.EngineHarness.Side;
import java.time.Duration;

/**
 * One request (id {@value #ID}, {@value #BLOCKS} blocks) of the <i>subject</i> side held in one phase
 * of its role, with its counterpart on the peer side where the phase has one. The subject's deadline
 * is 1 s and its quarantine timeout 2 s; the peer's are 1,000 s and 2,000 s, so only the subject's
 * timers fire during an event. Where a phase needs a full slot pool, a blocker request (id
 * {@value #BLOCKER}) holds the only slot; {@link #unblock()} cancels it. A blocker on the subject side
 * counts its deadline from 1,000 s in the future, so that the subject's deadline ends only the subject.
 */
final class Scenario implements AutoCloseable {
    static final long ID = 1;
    static final long BLOCKER = 100;
    static final int BLOCKS = 3;
    static final Duration SUBJECT_DEADLINE = Duration.ofSeconds(1);
    static final Duration SUBJECT_QUARANTINE = Duration.ofSeconds(2);
    static final Duration PEER_DEADLINE = Duration.ofSeconds(1000);

    /** Where the subject request stands: its role and its phase. */
    enum Situation {
        ANNOUNCER_SUBMITTED(true, TransferPhase.SUBMITTED),
        ANNOUNCER_WAITING_FOR_BUFFER(true, TransferPhase.WAITING_FOR_BUFFER),
        ANNOUNCER_WAITING_FOR_DATA(true, TransferPhase.WAITING_FOR_DATA),
        MOVER_SUBMITTED(false, TransferPhase.SUBMITTED),
        MOVER_WAITING_FOR_REQUEST_INFO(false, TransferPhase.WAITING_FOR_REQUEST_INFO),
        MOVER_WAITING_FOR_BUFFER(false, TransferPhase.WAITING_FOR_BUFFER),
        MOVER_DATA_IN_FLIGHT(false, TransferPhase.DATA_IN_FLIGHT);

        final boolean announcer;
        final TransferPhase phase;

        Situation(boolean announcer, TransferPhase phase) {
            this.announcer = announcer;
            this.phase = phase;
        }

        /** The phase an event in this situation ends the request in: a queued submission is taken in first. */
        TransferPhase endPhase() {
            if (phase != TransferPhase.SUBMITTED) {
                return phase;
            }
            return announcer ? TransferPhase.WAITING_FOR_BUFFER : TransferPhase.WAITING_FOR_REQUEST_INFO;
        }

        /** A mover that knows its announcer's attempt (it took the announcement). */
        boolean boundMover() {
            return this == MOVER_WAITING_FOR_BUFFER || this == MOVER_DATA_IN_FLIGHT;
        }
    }

    final EngineHarness h;
    final TransferMode mode;
    final Situation sit;
    final Side subject;
    final Side peer;
    Req req;
    Req counterpart;
    /** The request that holds the only slot the subject (or, for a mover waiting for request info, its counterpart) needs. */
    Req blocker;

    /**
     * @param secondSession connect a second session first, so that everything runs in the newest one and
     *        the first stays live beside it ({@link #oldSession})
     * @param peerPost what the peer's first transfer's post does; {@code subjectPost} the subject's
     */
    Scenario(TransferMode mode, Situation sit, boolean secondSession, FakeAgentPort.Post subjectPost, FakeAgentPort.Post peerPost) {
        this.mode = mode;
        this.sit = sit;
        boolean subjectIsCtx = sit.announcer == (mode == TransferMode.PULL);
        CacheTransceiverConfig mine = EngineHarness.config(mode, SUBJECT_DEADLINE, SUBJECT_QUARANTINE, 1);
        CacheTransceiverConfig theirs = EngineHarness.config(mode, PEER_DEADLINE, Duration.ofSeconds(2000),
                sit == Situation.MOVER_WAITING_FOR_REQUEST_INFO ? 1 : 4);
        this.h = new EngineHarness(subjectIsCtx ? mine : theirs, subjectIsCtx ? theirs : mine, 32, 1_000_000_000L);
        this.subject = subjectIsCtx ? h.ctx : h.gen;
        this.peer = subject.peer();
        if (secondSession) {
            h.connect(h.gen, h.ctx);
        }
        if (subjectPost != null) {
            subject.port.scriptNextPost(subjectPost);
        }
        if (peerPost != null) {
            peer.port.scriptNextPost(peerPost);
        }
        setUp();
        if (sit.phase == TransferPhase.SUBMITTED) {
            assertEquals(TransferPhase.SUBMITTED, req.phase(), "queued, not taken in yet");
        } else if (!req.done()) {
            assertEquals(sit.phase, req.phase(), "the subject reached its phase");
        }
    }

    Scenario(TransferMode mode, Situation sit) {
        this(mode, sit, false, null, null);
    }

    private void setUp() {
        switch (sit) {
            case ANNOUNCER_SUBMITTED -> {
                counterpart = peer.submit(ID, BLOCKS);
                h.pump();
                req = subject.submit(ID, BLOCKS); // queued: the engine has not run since
            }
            case ANNOUNCER_WAITING_FOR_BUFFER -> {
                blocker = subject.submit(BLOCKER, 1, far()); // announces and waits, holding the only slot
                h.pump();
                counterpart = peer.submit(ID, BLOCKS);
                req = subject.submit(ID, BLOCKS);
                h.pump();
            }
            case ANNOUNCER_WAITING_FOR_DATA -> {
                counterpart = peer.submit(ID, BLOCKS);
                req = subject.submit(ID, BLOCKS);
                h.pump();
                assertEquals(TransferPhase.DATA_IN_FLIGHT, counterpart.done() ? TransferPhase.DATA_IN_FLIGHT : counterpart.phase());
            }
            case MOVER_SUBMITTED -> {
                counterpart = peer.submit(ID, BLOCKS); // announces; the announcement waits here as pending
                h.pump();
                req = subject.submit(ID, BLOCKS);
            }
            case MOVER_WAITING_FOR_REQUEST_INFO -> {
                blocker = peer.submit(BLOCKER, 1); // holds the peer's only slot, so the counterpart cannot announce
                h.pump();
                counterpart = peer.submit(ID, BLOCKS);
                req = subject.submit(ID, BLOCKS);
                h.pump();
                assertEquals(TransferPhase.WAITING_FOR_BUFFER, counterpart.phase());
            }
            case MOVER_WAITING_FOR_BUFFER -> {
                peer.submit(BLOCKER, 1);
                blocker = subject.submit(BLOCKER, 1, far()); // moves, and its transfer holds the only slot
                h.pump();
                counterpart = peer.submit(ID, BLOCKS);
                req = subject.submit(ID, BLOCKS);
                h.pump();
            }
            case MOVER_DATA_IN_FLIGHT -> {
                counterpart = peer.submit(ID, BLOCKS);
                req = subject.submit(ID, BLOCKS);
                h.pump();
            }
        }
    }

    private long far() {
        return h.clock.nanoTime() + PEER_DEADLINE.toNanos();
    }

    /** Cancels the blocker, so that the requests it held back can go on. */
    void unblock() {
        if (blocker != null && !blocker.done()) {
            blocker.cancel();
            h.pump();
        }
    }

    /** The mover's transfer of request {@link #ID}. */
    FakeAgentPort.FakeXfer transfer() {
        Side mover = sit.announcer ? peer : subject;
        FakeAgentPort.FakeXfer x = mover.port.lastTransfer();
        assertEquals(BLOCKS, x.count, "the transfer of request " + ID);
        return x;
    }

    /** The attempt's epoch (the announcer's): the subject's own if it announces, else its counterpart's. */
    int attemptEpoch() {
        return sit.announcer ? req.epoch() : counterpart.epoch();
    }

    /** The peer's session the scenario runs in (the newest). */
    Session liveSession() {
        return peer.peerTable().newest(subject.name);
    }

    /** The first session, live beside the newest (with {@code secondSession}), as the peer sees it. */
    Session oldSession() {
        Session newest = liveSession();
        for (Session s : peer.sessions()) {
            if (s != newest) {
                return s;
            }
        }
        throw new AssertionError("only one session");
    }

    /** Lets the request finish normally: unblocks, lands every transfer; the subject must complete with the data. */
    void completeNormally() {
        unblock();
        for (int i = 0; i < 10; i++) {
            h.landInFlight();
            h.pump();
        }
        assertTrue(req.done(), () -> "subject still live: " + req);
        assertEquals(dev.kvx.transceiver.TransferOutcome.Status.COMPLETED, req.outcome().status(), req.outcome().detail());
        assertEquals(dev.kvx.transceiver.TransferOutcome.Status.COMPLETED, counterpart.outcome().status());
        Req genSide = subject.contextSide ? counterpart : req;
        assertTrue(genSide.holdsContextData(), "the generation side holds the context side's blocks");
    }

    /** Every request gets its one outcome, then every slot and block is free and nothing went wrong. */
    void finishAndCheck() {
        unblock();
        h.finishEverything();
        h.closeAllHandles();
        h.assertAllFree();
        h.assertNoErrors();
    }

    @Override
    public void close() {
        h.close();
    }

    @Override
    public String toString() {
        return mode + " " + sit;
    }
}
