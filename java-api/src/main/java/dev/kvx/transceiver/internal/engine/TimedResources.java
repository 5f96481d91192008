package dev.kvx.transceiver.internal.engine;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.nixl.TransferState;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Everything the engine holds beyond a request's life, in one shape swept by one loop:
 * <ul>
 * <li><b>quarantines</b> (announcer side): our blocks that the peer's abandoned transfer may still touch;
 *     released only on proof — the mover's Released or Done for that attempt, or the loss of the peer's
 *     endpoint — never on a timer. The announcer asks again now and then (a repeated Abort), so a lost
 *     message does not hold blocks forever; past {@code quarantineTimeout} the peer is marked unhealthy;</li>
 * <li><b>abandoned transfers</b> (mover side): our NIXL transfers of requests that ended while the
 *     transfer was in flight; polled until NIXL reports them over, then released, their blocks freed and
 *     the peer told (Released);</li>
 * <li><b>pending announcements</b>: a peer's announcement for a request not submitted here yet, kept
 *     (capped) for {@code kvTransferTimeout};</li>
 * <li><b>recently ended</b>: requests this side ended before the peer announced, so that a late
 *     announcement is answered (Abort, Released) instead of left waiting.</li>
 * </ul>
 * Engine-confined.
 */
final class TimedResources {
    private static final System.Logger LOG = System.getLogger(TimedResources.class.getName());
    private static final long SWEEP_INTERVAL_NANOS = 100_000;

    /** (session, request id, epoch): one attempt. */
    record Attempt(long session, long id, int epoch) {}

    abstract static sealed class Timed permits Quarantine, Abandoned, Pending, Ended {
        final Session session;
        final long sinceNanos;
        boolean done;

        Timed(Session session, long sinceNanos) {
            this.session = session;
            this.sinceNanos = sinceNanos;
        }
    }

    static final class Quarantine extends Timed {
        final Attempt key;
        final int[] blocks;
        long lastAskNanos;

        Quarantine(Session s, Attempt key, int[] blocks, long since) {
            super(s, since);
            this.key = key;
            this.blocks = blocks;
            this.lastAskNanos = since;
        }
    }

    static final class Abandoned extends Timed {
        final Attempt key;
        final int[] ownBlocks;
        AgentPort.Xfer xfer;
        final boolean postFailed;
        final long postAtNanos;
        final Supplier<AgentPort.Xfer> lateMaker;

        Abandoned(Session s, Attempt key, int[] ownBlocks, AgentPort.Xfer xfer, boolean postFailed, long postAtNanos,
                  Supplier<AgentPort.Xfer> lateMaker, long since) {
            super(s, since);
            this.key = key;
            this.ownBlocks = ownBlocks;
            this.xfer = xfer;
            this.postFailed = postFailed;
            this.postAtNanos = postAtNanos;
            this.lateMaker = lateMaker;
        }
    }

    static final class Pending extends Timed {
        final RequestTable.Key key;
        final WireMessage.Announce announce;
        final long bytes;

        Pending(Session s, RequestTable.Key key, WireMessage.Announce announce, long bytes, long since) {
            super(s, since);
            this.key = key;
            this.announce = announce;
            this.bytes = bytes;
        }
    }

    static final class Ended extends Timed {
        final RequestTable.Key key;

        Ended(RequestTable.Key key, long since) {
            super(null, since);
            this.key = key;
        }
    }

    private final KvBlockPool pool;
    private final CacheTransceiverConfig config;
    private final EngineCounters counters;
    private final MessageSender sender;
    private final List<Timed> all = new ArrayList<>();
    private final Map<Attempt, Quarantine> quarantines = new HashMap<>();
    private final Map<Attempt, Abandoned> abandoned = new HashMap<>();
    private final Map<RequestTable.Key, Pending> pending = new HashMap<>();
    private final Map<RequestTable.Key, Ended> ended = new HashMap<>();
    private int pendingCount;
    private long pendingBytes;
    private long nextSweepNanos;
    private boolean swept; // nextSweepNanos is set (0 is a time like any other: clocks may be negative)

    TimedResources(KvBlockPool pool, CacheTransceiverConfig config, EngineCounters counters, MessageSender sender) {
        this.pool = pool;
        this.config = config;
        this.counters = counters;
        this.sender = sender;
    }

    // ---------------------------------------------------------------- quarantines (announcer side)

    void quarantine(Session s, long id, int epoch, int[] blocks, long now) {
        Attempt key = new Attempt(s.id, id, epoch);
        Quarantine q = new Quarantine(s, key, blocks, now);
        Quarantine old = quarantines.put(key, q);
        if (old != null) { // cannot happen with real epochs; never lose blocks if it does
            quarantines.put(key, old);
            LOG.log(System.Logger.Level.ERROR, "two quarantines of one attempt " + key + "; keeping both");
            all.add(new Quarantine(s, new Attempt(s.id, id, epoch), blocks, now));
            s.quarantines++;
            return;
        }
        all.add(q);
        s.quarantines++;
    }

    /** The mover proved the attempt over (Released, or Done of an abandoned transfer): free its blocks. */
    boolean prove(Session s, long id, int epoch) {
        Quarantine q = quarantines.remove(new Attempt(s.id, id, epoch));
        if (q == null) {
            return false;
        }
        endQuarantine(q);
        counters.quarantinesProvenByRelease.incrementAndGet();
        return true;
    }

    private void endQuarantine(Quarantine q) {
        q.done = true;
        q.session.quarantines--;
        pool.endQuarantine(q.blocks);
    }

    int quarantineCount() {
        return quarantines.size();
    }

    // ---------------------------------------------------------------- abandoned transfers (mover side)

    void abandon(Session s, long id, int epoch, int[] ownBlocks, AgentPort.Xfer xfer, boolean postFailed, long now) {
        Abandoned a = new Abandoned(s, new Attempt(s.id, id, epoch), ownBlocks, xfer, postFailed, 0, null, now);
        abandoned.put(a.key, a);
        all.add(a);
        s.abandoned++;
    }

    /** A late transfer (fault injection) that is posted at {@code postAt} although its request ended. */
    void abandonLate(Session s, long id, int epoch, int[] ownBlocks, long postAt, Supplier<AgentPort.Xfer> maker, long now) {
        Abandoned a = new Abandoned(s, new Attempt(s.id, id, epoch), ownBlocks, null, false, postAt, maker, now);
        abandoned.put(a.key, a);
        all.add(a);
        s.abandoned++;
    }

    boolean isAbandoned(Session s, long id, int epoch) {
        return abandoned.containsKey(new Attempt(s.id, id, epoch));
    }

    int abandonedCount() {
        return abandoned.size();
    }

    private void finishAbandoned(Abandoned a, boolean tellPeer) {
        a.done = true;
        abandoned.remove(a.key);
        a.session.abandoned--;
        if (a.xfer != null) {
            try {
                a.xfer.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "release of an abandoned transfer", e);
            }
        }
        pool.endQuarantine(a.ownBlocks);
        if (tellPeer) {
            sender.sendQuietly(a.session, new WireMessage.Released(a.key.id(), a.key.epoch()));
        }
    }

    // ---------------------------------------------------------------- pending announcements (mover side)

    /**
     * Keeps an announcement for a request not submitted yet, if the caps allow.
     *
     * @return the announcement it replaced (to be answered), or null; {@code refused[0]} is set when a cap refused it
     */
    WireMessage.Announce keepPending(Session s, WireMessage.Announce a, long bytes, long now, boolean[] refused) {
        var l = config.limits();
        RequestTable.Key key = new RequestTable.Key(s.peerName, a.requestId());
        Pending old = pending.get(key);
        long freed = old != null && old.session == s ? old.bytes : 0;
        int freedCount = old != null && old.session == s ? 1 : 0;
        if (s.pendingAnnounces - freedCount >= l.maxPendingAnnouncesPerPeer() || s.pendingAnnounceBytes - freed + bytes > l.maxPendingAnnounceBytesPerPeer()
                || pendingCount - (old != null ? 1 : 0) >= l.maxPendingAnnouncesTotal()
                || pendingBytes - (old != null ? old.bytes : 0) + bytes > l.maxPendingAnnounceBytesTotal()) {
            counters.refusedPendingCap.incrementAndGet();
            refused[0] = true;
            return null;
        }
        WireMessage.Announce replaced = null;
        if (old != null) {
            dropPending(old);
            counters.staleMessages.incrementAndGet();
            replaced = old.session == s ? old.announce : null;
        }
        Pending p = new Pending(s, key, a, bytes, now);
        pending.put(key, p);
        all.add(p);
        s.pendingAnnounces++;
        s.pendingAnnounceBytes += bytes;
        pendingCount++;
        pendingBytes += bytes;
        return replaced;
    }

    /** Takes the pending announcement for (peer, id), if any. */
    Pending takePending(String peer, long id) {
        Pending p = pending.get(new RequestTable.Key(peer, id));
        if (p != null) {
            dropPending(p);
        }
        return p;
    }

    /** Drops a pending announcement of this session for that id (the peer aborted it); true if there was one. */
    boolean dropPending(Session s, long id, int epoch) {
        Pending p = pending.get(new RequestTable.Key(s.peerName, id));
        if (p != null && p.session == s && p.announce.epoch() == epoch) {
            dropPending(p);
            return true;
        }
        return false;
    }

    private void dropPending(Pending p) {
        p.done = true;
        pending.remove(p.key, p);
        p.session.pendingAnnounces--;
        p.session.pendingAnnounceBytes -= p.bytes;
        pendingCount--;
        pendingBytes -= p.bytes;
    }

    int pendingCount() {
        return pendingCount;
    }

    long pendingBytes() {
        return pendingBytes;
    }

    // ---------------------------------------------------------------- recently ended (mover side)

    void endedBeforeAnnounce(String peer, long id, long now) {
        RequestTable.Key key = new RequestTable.Key(peer, id);
        Ended e = new Ended(key, now);
        Ended old = ended.put(key, e);
        if (old != null) {
            old.done = true;
        }
        all.add(e);
    }

    boolean endedRecently(String peer, long id) {
        return ended.containsKey(new RequestTable.Key(peer, id));
    }

    void forgetEnded(String peer, long id) {
        Ended e = ended.remove(new RequestTable.Key(peer, id));
        if (e != null) {
            e.done = true;
        }
    }

    // ---------------------------------------------------------------- the sweep

    /**
     * One pass over everything held (at most every 100 µs): polls abandoned transfers, posts due late
     * ones, expires pending announcements and ended-request records, and counts per session what is
     * overdue (older than {@code quarantineTimeout} without proof) into {@link Session#overdue}.
     *
     * @return work done
     */
    int sweep(long now, Iterable<Session> sessions) {
        if (all.isEmpty() || (swept && now - nextSweepNanos < 0)) {
            return 0;
        }
        swept = true;
        nextSweepNanos = now + SWEEP_INTERVAL_NANOS;
        for (Session s : sessions) {
            s.overdue = 0;
        }
        long quarantineTimeout = CacheTransceiverConfig.nanos(config.quarantineTimeout());
        long keep = CacheTransceiverConfig.nanos(config.kvTransferTimeout());
        long askInterval = Math.clamp(quarantineTimeout / 4, 50_000_000L, 1_000_000_000L);
        int work = 0;
        for (int i = 0; i < all.size(); i++) {
            Timed t = all.get(i);
            if (t.done) {
                continue;
            }
            long age = now - t.sinceNanos;
            switch (t) {
                case Quarantine q -> {
                    if (age >= quarantineTimeout) {
                        q.session.overdue++;
                    }
                    if (now - q.lastAskNanos >= askInterval) {
                        // Ask again (the Abort or the Released may have been lost): the mover answers Released
                        // only if nothing of the attempt is in flight, so a lost message costs time, not blocks.
                        q.lastAskNanos = now;
                        sender.sendQuietly(q.session, new WireMessage.Abort(q.key.id(), q.key.epoch(), 6, false));
                    }
                }
                case Abandoned a -> work += sweepAbandoned(a, now, age >= quarantineTimeout);
                case Pending p -> {
                    if (age >= keep) {
                        dropPending(p);
                        counters.staleMessages.incrementAndGet();
                        work++;
                    }
                }
                case Ended e -> {
                    if (age >= keep) {
                        e.done = true;
                        ended.remove(e.key, e);
                    }
                }
            }
        }
        compact();
        return work;
    }

    private int sweepAbandoned(Abandoned a, long now, boolean overdue) {
        if (a.xfer == null) {
            if (a.lateMaker == null || now - a.postAtNanos < 0) {
                if (overdue) {
                    a.session.overdue++;
                }
                return 0;
            }
            try {
                a.xfer = a.lateMaker.get(); // the late write lands now, after the peer gave up
            } catch (RuntimeException e) {
                finishAbandoned(a, true); // nothing was posted
                return 1;
            }
        }
        if (a.postFailed) {
            // NIXL's status of a failed post says nothing about its parts in flight: only the peer's loss ends it.
            if (overdue) {
                a.session.overdue++;
            }
            return 0;
        }
        boolean terminal;
        try {
            terminal = a.xfer.status() == TransferState.DONE;
        } catch (RuntimeException e) {
            terminal = true; // an error status is terminal: its requests completed (with an error)
        }
        if (terminal) {
            finishAbandoned(a, true);
            return 1;
        }
        if (overdue) {
            a.session.overdue++;
        }
        return 0;
    }

    private void compact() {
        if (all.size() > 64 || all.stream().anyMatch(t -> t.done)) {
            all.removeIf(t -> t.done);
        }
    }

    // ---------------------------------------------------------------- peer loss and close

    /**
     * The peer's endpoint failed: nothing it had in flight can land any more, so its quarantines are
     * proven over; its pending announcements go; our abandoned transfers to it are released and their
     * blocks freed (the endpoint they used failed).
     */
    void sessionLost(Session s) {
        for (Iterator<Quarantine> it = quarantines.values().iterator(); it.hasNext(); ) {
            Quarantine q = it.next();
            if (q.session == s) {
                it.remove();
                endQuarantine(q);
                counters.quarantinesProvenByPeerLoss.incrementAndGet();
            }
        }
        for (Pending p : List.copyOf(pending.values())) {
            if (p.session == s) {
                dropPending(p);
            }
        }
        for (Abandoned a : List.copyOf(abandoned.values())) {
            if (a.session == s) {
                finishAbandoned(a, false); // the endpoint it used failed: nothing of it can move any more
            }
        }
        // No compaction here: the next sweep drops what ended, after it recounted every session's overdue
        // items (emptied here, the list would stop the sweeps and leave another peer's health stale).
    }

    /**
     * Transceiver close: abandoned transfers are released (the agent is destroyed next, which ends them)
     * and their blocks freed. Quarantined blocks stay quarantined in the pool: no proof arrived that the
     * peer's transfer is over.
     *
     * @return blocks left in quarantine
     */
    int close() {
        for (Abandoned a : List.copyOf(abandoned.values())) {
            finishAbandoned(a, false);
        }
        int left = 0;
        for (Quarantine q : quarantines.values()) {
            left += q.blocks.length;
        }
        for (Pending p : List.copyOf(pending.values())) {
            dropPending(p);
        }
        ended.clear();
        all.clear();
        return left;
    }

    boolean isEmpty() {
        return quarantines.isEmpty() && abandoned.isEmpty();
    }
}
