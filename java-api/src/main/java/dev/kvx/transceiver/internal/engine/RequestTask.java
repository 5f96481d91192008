package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.wire.WireMessage;

/**
 * The engine's state of one submitted request (one attempt): its role in the protocol, the session it is
 * bound to, its phase and what it holds (a staging slot, a NIXL transfer). Engine-confined; linked into
 * the request table's intrusive list so that a tick walks the live requests without allocating.
 */
final class RequestTask {
    /** What this side does for the request. */
    enum Role {
        /** Tells the peer where its blocks are and waits (push: generation side; pull: context side). */
        ANNOUNCER,
        /** Moves the data with a NIXL transfer (push: context side WRITEs; pull: generation side READs). */
        MOVER
    }

    final RequestRecord record;
    final long id;
    final String peerName;
    final boolean contextSide;
    final Role role;
    final boolean pull;
    final int ownEpoch;
    final long startNanos;
    final long deadlineNanos;
    final int blockCount;
    final long bytes;
    /** Bound session: at intake for an announcer, at the matching announcement for a mover. */
    Session session;
    /** The protocol epoch: the announcer's attempt number. */
    int epoch;
    TransferPhase phase = TransferPhase.SUBMITTED;
    long phaseSinceNanos;
    final long[] phaseNanos = new long[TransferPhase.values().length];
    BufferIndexPool.Lease lease;
    AgentPort.Xfer transfer;
    /** The mover's transfer was posted (it may touch the announcer's memory until it ends). */
    boolean posted;
    /** A post that failed: parts of it may be in flight, and NIXL can no longer tell when they end. */
    boolean postFailed;
    /** The announcer sent its announcement (the mover may be moving data). */
    boolean announced;
    /** The mover confirmed (Released) that nothing of this attempt can land any more. */
    boolean releasedByPeer;
    /** The mover's view of the announcer's blocks. */
    WireMessage.Announce announce;
    /** Fault injection: when a late transfer is posted (0: none). */
    long lateAtNanos;
    RequestTask prev;
    RequestTask next;

    RequestTask(RequestRecord record, String peerName, boolean contextSide, boolean pull, int ownEpoch, long start, long deadline,
                int blockCount, long bytes) {
        this.record = record;
        this.id = record.id();
        this.peerName = peerName;
        this.contextSide = contextSide;
        this.pull = pull;
        this.role = contextSide == pull ? Role.ANNOUNCER : Role.MOVER;
        this.ownEpoch = ownEpoch;
        this.startNanos = start;
        this.phaseSinceNanos = start;
        this.deadlineNanos = deadline;
        this.blockCount = blockCount;
        this.bytes = bytes;
    }

    boolean isAnnouncer() {
        return role == Role.ANNOUNCER;
    }

    String side() {
        return contextSide ? "context" : "generation";
    }

    @Override
    public String toString() {
        return side() + " request " + id + " (" + role + ", " + phase + ")";
    }
}
