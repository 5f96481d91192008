package dev.kvx.nixl;

import dev.kvx.AlreadyClosedException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * One NIXL transfer request ({@code nixl_capi_xfer_req_t}): prepared by
 * {@link NixlAgent#createTransfer}, then {@link #post() posted}, {@link #status() polled} or
 * {@link #await(Duration) awaited with a deadline}, and {@link #close() released}.
 *
 * <p>NIXL has no abort: closing an in-flight transfer releases it (UCX cancels what it can) but does
 * not promise that the remote side saw nothing; callers that reuse the memory must wait for a
 * terminal state first (the transceiver quarantines such memory). Every method is thread-safe; after
 * close, or after the agent closed, every method but {@link #close()} throws
 * {@link AlreadyClosedException}.
 */
public final class Transfer implements AutoCloseable {
    final NixlAgent agent;
    private final TransferOp op;
    private final String remoteAgent;
    private final int descriptorCount;
    private final long bytes;
    // Written under the agent's lock; volatile so that status() can answer a known state without it.
    volatile MemorySegment handle; // NULL once released
    private volatile TransferState state = TransferState.PREPARED;
    private String closedReason;
    private long postedNanos;
    private long doneNanos;

    Transfer(NixlAgent agent, TransferOp op, String remoteAgent, int descriptorCount, long bytes, MemorySegment handle) {
        this.agent = agent;
        this.op = op;
        this.remoteAgent = remoteAgent;
        this.descriptorCount = descriptorCount;
        this.bytes = bytes;
        this.handle = handle;
    }

    /** READ or WRITE. */
    public TransferOp op() {
        return op;
    }

    /** The peer agent's name. */
    public String remoteAgent() {
        return remoteAgent;
    }

    /** Total bytes moved by one post. */
    public long bytes() {
        return bytes;
    }

    /** Number of descriptors on each side. */
    public int descriptorCount() {
        return descriptorCount;
    }

    /**
     * Starts (or restarts, once done) the transfer. Never blocks.
     *
     * @return {@link TransferState#DONE} if NIXL finished inside the call, else IN_PROGRESS
     * @throws NixlException for a native error (the transfer stays open; close it)
     */
    public TransferState post() {
        agent.lock();
        try {
            MemorySegment h = live();
            postedNanos = System.nanoTime();
            doneNanos = 0;
            NixlStatus s = Status.check(agent.postNative(h), "nixl_capi_post_xfer_req", this);
            state = s == NixlStatus.SUCCESS ? TransferState.DONE : TransferState.IN_PROGRESS;
            if (state == TransferState.DONE) {
                doneNanos = System.nanoTime();
            }
            return state;
        } finally {
            agent.unlock();
        }
    }

    /**
     * Polls once; this also drives NIXL progress (and sends the completion notification). Never blocks.
     *
     * @throws NixlException if the transfer failed
     */
    public TransferState status() {
        TransferState known = state;
        if (known != TransferState.IN_PROGRESS) {
            // PREPARED or DONE changes only by this object's own calls: no native call, no lock
            // (the polling loops of callers hit this path once a transfer is over).
            live();
            return known;
        }
        agent.lock();
        try {
            MemorySegment h = live();
            if (state != TransferState.IN_PROGRESS) {
                return state;
            }
            NixlStatus s = Status.check(agent.statusNative(h), "nixl_capi_get_xfer_status", this);
            if (s == NixlStatus.SUCCESS) {
                state = TransferState.DONE;
                doneNanos = System.nanoTime();
            }
            return state;
        } finally {
            agent.unlock();
        }
    }

    /**
     * One {@code nixl_capi_get_xfer_status} call, also when the state is known already: the
     * benchmark suite compares this call's cost through FFM with the same call from C.
     */
    NixlStatus pollNativeStatus() {
        agent.lock();
        try {
            return Status.check(agent.statusNative(live()), "nixl_capi_get_xfer_status", this);
        } finally {
            agent.unlock();
        }
    }

    /**
     * Polls until the transfer is done or the timeout passes, whichever comes first: spins briefly,
     * then parks with a growing pause (at most 200 µs), releasing the agent between polls.
     *
     * @return DONE, or the state at the deadline (IN_PROGRESS, or PREPARED if never posted)
     * @throws NixlException if the transfer failed
     * @throws InterruptedException if the waiting thread was interrupted
     */
    public TransferState await(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        long pause = 1_000;
        int spins = 0;
        while (true) {
            TransferState s = status();
            if (s != TransferState.IN_PROGRESS || System.nanoTime() - deadline >= 0) {
                return s;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted while awaiting " + describe());
            }
            if (spins++ < 200) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(Math.min(pause, Math.max(1, deadline - System.nanoTime())));
                pause = Math.min(pause * 2, 200_000);
            }
        }
    }

    /** Nanoseconds from the last post to completion, or -1 if not done. */
    public long lastDurationNanos() {
        agent.lock();
        try {
            return doneNanos == 0 ? -1 : doneNanos - postedNanos;
        } finally {
            agent.unlock();
        }
    }

    /** Whether the transfer was released. */
    public boolean isClosed() {
        agent.lock();
        try {
            return handle == null;
        } finally {
            agent.unlock();
        }
    }

    /**
     * Releases the NIXL request. Idempotent and thread-safe; a no-op once the agent closed. An
     * in-flight transfer is cancelled as far as NIXL can (see the class comment).
     */
    @Override
    public void close() {
        agent.releaseTransfer(this, "closed by its owner");
    }

    // Called by the agent under its lock.
    void markReleased(String reason) {
        handle = null;
        closedReason = reason;
    }

    private MemorySegment live() {
        MemorySegment h = handle;
        if (h == null) {
            throw new AlreadyClosedException("transfer " + describe() + " was released (" + closedReason + ")");
        }
        return h;
    }

    String describe() {
        return op + " of " + descriptorCount + " descriptor(s), " + bytes + " B, " + agent.name() + " -> " + remoteAgent;
    }

    @Override
    public String toString() {
        return "Transfer[" + describe() + ", " + state + "]";
    }
}
