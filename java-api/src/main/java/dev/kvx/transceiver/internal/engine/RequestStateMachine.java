package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.NanoClock;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlException;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.RequestState;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferOutcome.Status;
import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.time.Duration;
import java.util.AbstractList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every request's protocol, one state machine for both sides and both modes. A request's side and the
 * mode give it a role: the <b>announcer</b> tells the peer where its blocks are and waits; the
 * <b>mover</b> moves the data with a NIXL transfer that carries the completion notice ({@code Done}).
 * <pre>
 * announcer: SUBMITTED → WAITING_FOR_BUFFER → (Announce) WAITING_FOR_DATA → (Done) DONE
 * mover:     SUBMITTED → WAITING_FOR_REQUEST_INFO → (Announce) WAITING_FOR_BUFFER → DATA_IN_FLIGHT → DONE
 * </pre>
 * Every tick checks cancel and deadline before any readiness test. A request that ends without success
 * tells the peer ({@code Abort}) and makes sure no transfer in flight can land in memory that goes back
 * to the pool: the announcer quarantines its blocks until the mover proves the attempt over
 * ({@code Released}, or {@code Done}, or the peer's loss); the mover keeps its own transfer (and blocks)
 * until NIXL reports it over, then says {@code Released}. Engine-confined.
 */
final class RequestStateMachine {
    private static final System.Logger LOG = System.getLogger(RequestStateMachine.class.getName());
    private final String name;
    private final NanoClock clock;
    private final CacheTransceiverConfig config;
    private final AgentPort port;
    private final KvBlockPool pool;
    private final BufferIndexPool sendSlots;
    private final BufferIndexPool recvSlots;
    private final RequestTable table;
    private final TimedResources resources;
    private final PeerTable peers;
    private final MessageSender sender;
    private final EngineCounters counters;
    private final OutcomeDelivery delivery;
    private final AgentPort.Prepared localBlocks;
    private final Map<String, Integer> waiters = new HashMap<>(); // unbound movers per peer
    private int[] ownIds = new int[64];

    RequestStateMachine(String name, NanoClock clock, CacheTransceiverConfig config, AgentPort port, KvBlockPool pool, BufferIndexPool sendSlots,
                        BufferIndexPool recvSlots, RequestTable table, TimedResources resources, PeerTable peers, MessageSender sender,
                        EngineCounters counters, OutcomeDelivery delivery, AgentPort.Prepared localBlocks) {
        this.name = name;
        this.clock = clock;
        this.config = config;
        this.port = port;
        this.pool = pool;
        this.sendSlots = sendSlots;
        this.recvSlots = recvSlots;
        this.table = table;
        this.resources = resources;
        this.peers = peers;
        this.sender = sender;
        this.counters = counters;
        this.delivery = delivery;
        this.localBlocks = localBlocks;
    }

    int waitersFor(String peer) {
        return waiters.getOrDefault(peer, 0);
    }

    // ---------------------------------------------------------------- intake

    /** Takes a submission: binds it to its peer's session (announcer) or waits for the peer (mover). */
    void intake(RequestTask t, long now) {
        if (table.contains(t.peerName, t.id, t.role)) {
            // Fails only this submission: the live request with that id is not touched (no Abort, nothing held).
            finishWith(t, Status.FAILED, TransferPhase.SUBMITTED, "request id " + t.id + " is already in transfer with peer "
                    + t.peerName + " on " + name + "; ids must be unique among live requests", 0, null, 0, now);
            return;
        }
        Session s = peers.newest(t.peerName);
        if (s == null && t.isAnnouncer()) {
            finishWith(t, Status.FAILED, TransferPhase.SUBMITTED, "not connected to peer '" + t.peerName + "' (connect first; "
                    + "a lost peer must connect again)", 0, null, 0, now);
            return;
        }
        // A mover may wait for a peer that is still connecting: it binds to the session its announcement comes in.
        if (s != null && s.state == Session.State.UNHEALTHY) {
            finishWith(t, Status.FAILED, TransferPhase.SUBMITTED, "peer '" + t.peerName + "' is unhealthy and gets no new work: "
                    + s.unhealthyReason, 0, null, 0, now);
            return;
        }
        table.add(t);
        if (t.isAnnouncer()) {
            t.session = s;
            t.epoch = t.ownEpoch;
            s.tasks++;
            setPhase(t, TransferPhase.WAITING_FOR_BUFFER, now);
        } else {
            waiters.merge(t.peerName, 1, Integer::sum);
            resources.forgetEnded(t.peerName, t.id);
            setPhase(t, TransferPhase.WAITING_FOR_REQUEST_INFO, now);
            TimedResources.Pending p = resources.takePending(t.peerName, t.id); // announced before we were asked
            if (p != null && p.session.isLive()) {
                bindMover(t, p.session, p.announce);
            }
        }
    }

    // ---------------------------------------------------------------- ticks

    /** Advances every live request; returns the work done. Allocates nothing when nothing changes. */
    int tick(long now) {
        int work = 0;
        RequestTask next;
        for (RequestTask t = table.head(); t != null; t = next) {
            next = t.next;
            try {
                // Cancel and deadline come first, before any readiness test (F2): a request that never
                // becomes ready still ends on time.
                if (t.record.cancelRequested()) {
                    end(t, Status.CANCELLED, "cancelled by this side", false, 0, null, now);
                    work++;
                    continue;
                }
                if (now - t.deadlineNanos >= 0) {
                    end(t, Status.TIMED_OUT, "kvTransferTimeout of " + config.kvTransferTimeout().toMillis() + " ms passed in phase "
                            + t.phase, false, 0, null, now);
                    work++;
                    continue;
                }
                config.faults().beforeStep(t.id, t.phase);
                work += advance(t, now);
            } catch (NixlException e) {
                // a transfer's own error (not a failed post, which stays abandoned): NIXL errors are terminal
                end(t, Status.FAILED, e.getMessage(), false, e.rawStatus(), e, now);
                work++;
            } catch (Throwable e) { // F5: one request's failure never stops the engine
                counters.requestErrors.incrementAndGet();
                end(t, Status.FAILED, "error in request handling: " + e, false, 0, e, now);
                work++;
            }
        }
        return work;
    }

    private int advance(RequestTask t, long now) {
        switch (t.phase) {
            case WAITING_FOR_REQUEST_INFO -> {
                if (t.announce == null) {
                    return 0; // onAnnounce binds it (or intake did, from a pending announcement)
                }
                String wrong = checkAnnounce(t);
                if (wrong != null) {
                    sender.sendQuietly(t.session, new WireMessage.Abort(t.id, t.epoch, 3, true));
                    end(t, Status.FAILED, wrong, true, 0, null, now); // byPeer=true: the Abort is sent above
                    return 1;
                }
                setPhase(t, TransferPhase.WAITING_FOR_BUFFER, now);
                return 1;
            }
            case WAITING_FOR_BUFFER -> {
                BufferIndexPool.Lease lease = (t.contextSide ? sendSlots : recvSlots).tryAcquire(t.id);
                if (lease == null) {
                    return 0;
                }
                t.lease = lease;
                t.record.setBufferIndex(lease.index());
                if (t.isAnnouncer()) {
                    int n = t.record.blockIdsInto(ids(t.blockCount));
                    try {
                        sender.send(t.session, new WireMessage.Announce(t.id, t.epoch, lease.index(), t.pull, java.util.Arrays.copyOf(ownIds, n)));
                    } catch (RuntimeException e) {
                        t.session.sendFailure = e;
                        end(t, Status.FAILED, "peer '" + t.peerName + "' is unreachable (" + e.getMessage() + ")", true, 0, e, now);
                        return 1;
                    }
                    t.announced = true;
                    setPhase(t, TransferPhase.WAITING_FOR_DATA, now);
                } else {
                    setPhase(t, TransferPhase.DATA_IN_FLIGHT, now);
                    startTransfer(t, now);
                }
                return 1;
            }
            case DATA_IN_FLIGHT -> {
                if (t.transfer == null) {
                    if (t.lateAtNanos != 0 && now - t.lateAtNanos >= 0) {
                        t.lateAtNanos = 0;
                        makeAndPost(t, now);
                        return 1;
                    }
                    return 0; // withheld by a fault, or late
                }
                if (t.transfer.status() == TransferState.DONE) {
                    finish(t, now);
                    return 1;
                }
                return 0;
            }
            default -> {
                return 0; // WAITING_FOR_DATA advances on Done
            }
        }
    }

    private String checkAnnounce(RequestTask t) {
        WireMessage.Announce a = t.announce;
        if (a.blockCount() != t.blockCount) {
            return "peer '" + t.peerName + "' announced " + a.blockCount() + " block(s), this side holds " + t.blockCount;
        }
        if (a.pull() != t.pull) {
            return "peer '" + t.peerName + "' announced a " + (a.pull() ? "pull" : "push") + " transfer, this side runs "
                    + (t.pull ? "pull" : "push");
        }
        int capacity = t.session.peerPool.blockCount();
        for (int i = 0; i < a.blockCount(); i++) {
            if (a.blockId(i) >= capacity) {
                return "peer '" + t.peerName + "' announced block " + a.blockId(i) + ", outside its pool of " + capacity;
            }
        }
        return null;
    }

    private void startTransfer(RequestTask t, long now) {
        if (config.faults().withholdTransfer(t.id)) {
            return; // a mover that never moves
        }
        Duration late = config.faults().lateTransfer(t.id);
        if (late.isPositive()) {
            t.lateAtNanos = (now + CacheTransceiverConfig.nanos(late)) | 1; // never 0
            return;
        }
        makeAndPost(t, now);
    }

    private void makeAndPost(RequestTask t, long now) {
        t.transfer = makeTransfer(t); // a failure here posted nothing
        t.posted = true;
        TransferState st;
        try {
            st = t.transfer.post();
        } catch (NixlException e) {
            t.postFailed = true; // parts of it may be in flight; NIXL cannot tell when they end
            throw e;
        }
        if (st == TransferState.DONE) {
            finish(t, now);
        }
    }

    private AgentPort.Xfer makeTransfer(RequestTask t) {
        Session s = t.session;
        if (s.remoteBlocks == null) {
            s.remoteBlocks = port.prepare(s.peerName, s.peerPool.vram() ? MemoryKind.VRAM : MemoryKind.DRAM, peerDescriptors(s));
        }
        int n = t.record.blockIdsInto(ids(t.blockCount));
        byte[] done = sender.encodeAttached(s, new WireMessage.Done(t.id, t.epoch));
        return port.makeTransfer(t.pull ? TransferOp.READ : TransferOp.WRITE, localBlocks, ownIds, s.remoteBlocks,
                t.announce.blockIds(), n, done);
    }

    private static List<MemoryDescriptor> peerDescriptors(Session s) {
        long base = s.peerPool.baseAddress();
        long bytes = s.peerPool.blockBytes();
        int device = s.peerPool.deviceId();
        int count = s.peerPool.blockCount();
        return new AbstractList<>() {
            @Override
            public MemoryDescriptor get(int i) {
                return new MemoryDescriptor(base + i * bytes, bytes, device);
            }

            @Override
            public int size() {
                return count;
            }
        };
    }

    private int[] ids(int n) {
        if (ownIds.length < n) {
            ownIds = new int[Math.max(n, ownIds.length * 2)];
        }
        return ownIds;
    }

    private void bindMover(RequestTask t, Session s, WireMessage.Announce a) {
        t.session = s;
        t.epoch = a.epoch();
        t.announce = a;
        s.tasks++;
        unwait(t.peerName);
    }

    private void unwait(String peer) {
        waiters.computeIfPresent(peer, (k, v) -> v <= 1 ? null : v - 1);
    }

    // ---------------------------------------------------------------- messages

    void onAnnounce(Session s, WireMessage.Announce a, long bytes, long now) {
        RequestTask t = table.get(s.peerName, a.requestId(), RequestTask.Role.MOVER);
        if (t != null && t.announce == null && t.phase == TransferPhase.WAITING_FOR_REQUEST_INFO) {
            bindMover(t, s, a);
            return;
        }
        if (t != null) {
            counters.staleMessages.incrementAndGet(); // a second announcement for a bound attempt
            return;
        }
        if (resources.endedRecently(s.peerName, a.requestId())) {
            // F15: this side already gave up on the request; say so instead of letting the peer wait.
            counters.staleMessages.incrementAndGet();
            refuseAnnounce(s, a, 2);
            return;
        }
        boolean[] refused = new boolean[1];
        WireMessage.Announce replaced = resources.keepPending(s, a, bytes, now, refused);
        if (refused[0]) {
            refuseAnnounce(s, a, 4); // over a cap: the announcer hears at once instead of at its deadline
        } else if (replaced != null) {
            refuseAnnounce(s, replaced, 4);
        }
    }

    private void refuseAnnounce(Session s, WireMessage.Announce a, int reason) {
        sender.sendQuietly(s, new WireMessage.Abort(a.requestId(), a.epoch(), reason, true));
        sender.sendQuietly(s, new WireMessage.Released(a.requestId(), a.epoch()));
    }

    void onDone(Session s, WireMessage.Done d, long now) {
        if (resources.prove(s, d.requestId(), d.epoch())) {
            return; // the abandoned transfer finished: its memory is safe again
        }
        RequestTask t = table.get(s.peerName, d.requestId(), RequestTask.Role.ANNOUNCER);
        if (t != null && t.session == s && t.epoch == d.epoch() && t.phase == TransferPhase.WAITING_FOR_DATA) {
            finish(t, now);
        } else {
            counters.staleMessages.incrementAndGet();
        }
    }

    void onAbort(Session s, WireMessage.Abort a, long now) {
        if (a.fromMover()) { // about an attempt this side announced
            RequestTask t = table.get(s.peerName, a.requestId(), RequestTask.Role.ANNOUNCER);
            if (t != null && t.session == s && t.epoch == a.epoch()) {
                end(t, Status.CANCELLED, "cancelled by peer " + s.peerName + " (" + reason(a.reason()) + ")", true, 0, null, now);
            } else {
                counters.staleMessages.incrementAndGet();
            }
            return;
        }
        // about an attempt the peer announced, which this side moves (or would)
        if (resources.dropPending(s, a.requestId(), a.epoch())) {
            counters.staleMessages.incrementAndGet();
            sender.sendQuietly(s, new WireMessage.Released(a.requestId(), a.epoch()));
            return;
        }
        RequestTask t = table.get(s.peerName, a.requestId(), RequestTask.Role.MOVER);
        // A mover not bound yet takes the peer's give-up for its id, but never a re-ask (reason 6): that one is
        // about an earlier, announced attempt whose quarantine waits for proof, not about this request.
        if (t != null && ((t.session == s && t.epoch == a.epoch()) || (t.session == null && a.reason() != 6))) {
            end(t, Status.CANCELLED, "cancelled by peer " + s.peerName + " (" + reason(a.reason()) + ")", true, 0, null, now);
            return;
        }
        counters.staleMessages.incrementAndGet();
        if (!resources.isAbandoned(s, a.requestId(), a.epoch())) {
            // Nothing of that attempt is in flight from this side: the peer may reuse its memory.
            sender.sendQuietly(s, new WireMessage.Released(a.requestId(), a.epoch()));
        }
    }

    void onReleased(Session s, WireMessage.Released r) {
        if (resources.prove(s, r.requestId(), r.epoch())) {
            return;
        }
        RequestTask t = table.get(s.peerName, r.requestId(), RequestTask.Role.ANNOUNCER);
        if (t != null && t.session == s && t.epoch == r.epoch()) {
            t.releasedByPeer = true; // the mover will not move: nothing to quarantine when this request ends
        } else {
            counters.staleMessages.incrementAndGet();
        }
    }

    private static String reason(int code) {
        return switch (code) {
            case 1 -> "its deadline passed";
            case 2 -> "cancelled";
            case 3 -> "the announcement did not match";
            case 4 -> "refused";
            case 5 -> "failed";
            case 6 -> "asks whether the attempt is over";
            default -> "reason " + code;
        };
    }

    // ---------------------------------------------------------------- peer loss and close

    /**
     * The session's peer is unreachable: its requests end FAILED. Nothing is quarantined for them and
     * no message is sent: the endpoint is gone, so nothing in flight can land any more.
     */
    void sessionLost(Session s, RuntimeException cause, long now) {
        int raw = cause instanceof NixlException ne ? ne.rawStatus() : 0;
        boolean otherLive = false;
        for (Session o : peers.sessions()) {
            otherLive |= o != s && o.peerName.equals(s.peerName) && o.isLive();
        }
        RequestTask next;
        for (RequestTask t = table.head(); t != null; t = next) {
            next = t.next;
            if (t.session == s || (t.session == null && !otherLive && t.peerName.equals(s.peerName))) {
                if (t.transfer != null) {
                    closeQuietly(t.transfer);
                    t.transfer = null;
                }
                t.lateAtNanos = 0;
                finishWith(t, Status.FAILED, t.phase, "peer " + s.peerName + " is unreachable (" + cause.getMessage() + ")", raw,
                        cause, 0, now);
            }
        }
    }

    /** A submission that never reached the table (the transceiver closed first) ends here. */
    void refuse(RequestTask t, Status status, String why, long now) {
        finishWith(t, status, TransferPhase.SUBMITTED, why, 0, null, 0, now);
    }

    /** Transceiver close: every live request ends CANCELLED (peers told, memory quarantined as usual). */
    void cancelAll(String why, long now) {
        RequestTask next;
        for (RequestTask t = table.head(); t != null; t = next) {
            next = t.next;
            try {
                end(t, Status.CANCELLED, why, false, 0, null, now);
            } catch (Throwable e) {
                finishWith(t, Status.FAILED, t.phase, why + "; ending it failed: " + e, 0, e, 0, now);
            }
        }
    }

    // ---------------------------------------------------------------- ending

    private void finish(RequestTask t, long now) {
        finishWith(t, Status.COMPLETED, TransferPhase.DONE, t.role == RequestTask.Role.MOVER ? "blocks " + (t.pull ? "read" : "written")
                : "blocks " + (t.pull ? "taken by the peer" : "received"), 0, null, 0, now);
    }

    /**
     * Ends a request without success: tells the peer (unless it told us), and makes sure no transfer in
     * flight can land in memory that goes back to the pool.
     */
    void end(RequestTask t, Status status, String why, boolean byPeer, int nativeCode, Throwable cause, long now) {
        Session s = t.session;
        int reason = status == Status.TIMED_OUT ? 1 : status == Status.CANCELLED ? 2 : 5;
        int quarantined = 0;
        if (t.isAnnouncer()) {
            if (!byPeer && s != null) {
                sender.sendQuietly(s, new WireMessage.Abort(t.id, t.epoch, reason, false));
            }
            if (t.announced && !t.releasedByPeer && s != null) {
                // The mover may be moving data into (push) or out of (pull) these blocks right now.
                int[] blocks = t.record.detachBlocks();
                pool.quarantine(blocks);
                resources.quarantine(s, t.id, t.epoch, blocks, now);
                quarantined = blocks.length;
            }
        } else {
            if (!byPeer && s != null) {
                sender.sendQuietly(s, new WireMessage.Abort(t.id, t.epoch, reason, true));
            }
            if (t.transfer != null && t.posted && (t.postFailed || !isTerminal(t.transfer))) {
                // NIXL cannot abort a transfer: keep it (and our blocks it touches) until NIXL reports it over.
                int[] blocks = t.record.detachBlocks();
                pool.quarantine(blocks);
                resources.abandon(s, t.id, t.epoch, blocks, t.transfer, t.postFailed, now);
                t.transfer = null;
                quarantined = blocks.length;
            } else if (t.transfer == null && t.lateAtNanos != 0 && s != null) {
                int[] blocks = t.record.detachBlocks();
                pool.quarantine(blocks);
                RequestTask late = t;
                resources.abandonLate(s, t.id, t.epoch, blocks, t.lateAtNanos, () -> {
                    AgentPort.Xfer x = makeLate(late, blocks);
                    x.post();
                    return x;
                }, now);
                quarantined = blocks.length;
            } else {
                if (t.transfer != null) {
                    closeQuietly(t.transfer);
                    t.transfer = null;
                }
                if (s != null) {
                    sender.sendQuietly(s, new WireMessage.Released(t.id, t.epoch)); // nothing of ours can land
                }
            }
            if (s == null) {
                TimedResources.Pending p = resources.takePending(t.peerName, t.id);
                if (p != null) {
                    refuseAnnounce(p.session, p.announce, reason); // its announcement already waited here: answer it (F15)
                }
                resources.endedBeforeAnnounce(t.peerName, t.id, now);
            }
        }
        finishWith(t, status, t.phase, why, nativeCode, cause, quarantined, now);
    }

    private AgentPort.Xfer makeLate(RequestTask t, int[] blocks) {
        Session s = t.session;
        if (s.remoteBlocks == null) {
            s.remoteBlocks = port.prepare(s.peerName, s.peerPool.vram() ? MemoryKind.VRAM : MemoryKind.DRAM, peerDescriptors(s));
        }
        byte[] done = sender.encodeAttached(s, new WireMessage.Done(t.id, t.epoch));
        return port.makeTransfer(t.pull ? TransferOp.READ : TransferOp.WRITE, localBlocks, blocks, s.remoteBlocks,
                t.announce.blockIds(), blocks.length, done);
    }

    private static boolean isTerminal(AgentPort.Xfer x) {
        try {
            return x.status() == TransferState.DONE;
        } catch (RuntimeException e) {
            return true; // an error status is terminal
        }
    }

    private void finishWith(RequestTask t, Status status, TransferPhase phase, String detail, int nativeCode, Throwable cause,
                            int quarantined, long tickNow) {
        long now = Math.max(tickNow, clock.nanoTime()); // one fresh reading ends the latency and the last phase
        if (table.remove(t)) {
            if (t.session != null) {
                t.session.tasks--;
            } else if (t.role == RequestTask.Role.MOVER) {
                unwait(t.peerName);
            }
        }
        if (t.transfer != null) {
            closeQuietly(t.transfer);
            t.transfer = null;
        }
        int bufferIndex = -1;
        if (t.lease != null) {
            bufferIndex = t.lease.isReleased() ? -1 : t.lease.index();
            t.lease.close();
        }
        RequestState state = switch (status) {
            case COMPLETED -> RequestState.COMPLETED;
            case TIMED_OUT -> RequestState.TIMED_OUT;
            case CANCELLED -> RequestState.CANCELLED;
            case FAILED -> RequestState.FAILED;
        };
        t.record.update(state, phase);
        t.record.finished(bufferIndex, nativeCode, now);
        long latency = now - t.startNanos;
        counters.count(status, latency, now - t.deadlineNanos, t.bytes);
        TransferEvents.commit(t, status, phase, latency, quarantined, now);
        TransferOutcome outcome = new TransferOutcome(t.id, status, phase, detail, nativeCode, cause, latency, quarantined);
        t.record.releaseFromEngine();
        delivery.deliver(t.record, outcome);
    }

    void setPhase(RequestTask t, TransferPhase phase, long now) {
        t.phaseNanos[t.phase.ordinal()] += now - t.phaseSinceNanos;
        t.phaseSinceNanos = now;
        t.phase = phase;
        t.record.update(RequestState.IN_TRANSFER, phase);
    }

    private static void closeQuietly(AgentPort.Xfer x) {
        try {
            x.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "release of a transfer", e);
        }
    }
}
