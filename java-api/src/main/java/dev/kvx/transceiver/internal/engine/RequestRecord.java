package dev.kvx.transceiver.internal.engine;

import dev.kvx.AlreadyClosedException;
import dev.kvx.internal.Libc;
import dev.kvx.internal.gen.request.kvx_request;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.transceiver.RequestState;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferPhase;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One request's transfer state in a native {@code kvx_request} record ({@code native-headers/kvx_request.h},
 * jextract layout) with its KV block table. Two references keep it alive — the serving code's handle
 * and the engine's — and the record and its blocks are freed when both are gone.
 *
 * <p>The record is {@code calloc}'d and {@code free}'d explicitly: no shared arena per request (whose
 * close is a JVM-wide handshake), no GC involvement. Memory safety comes from one rule: every access goes
 * through {@link #live()} under this object's monitor, and the free happens under the same monitor, so
 * nothing reads the record after it was freed; a read through a released handle throws
 * {@link AlreadyClosedException}.
 */
public final class RequestRecord {
    private final long id;
    private final KvBlockPool pool;
    private final MemorySegment record;
    private final AtomicBoolean submitted = new AtomicBoolean();
    private final Consumer<TransferOutcome> completion;
    private int refs = 1;
    private boolean userClosed;
    private boolean freed;

    /**
     * @param completion completes the caller's future with the outcome (called once, by the engine's
     *        delivery)
     */
    public RequestRecord(long id, KvBlockPool pool, int[] blocks, Consumer<TransferOutcome> completion) {
        this.id = id;
        this.pool = pool;
        this.completion = completion;
        long size = kvx_request.layout().byteSize() + 4L * blocks.length;
        this.record = Libc.calloc(size);
        kvx_request.request_id(record, id);
        kvx_request.state(record, RequestState.CREATED.ordinal());
        kvx_request.phase(record, TransferPhase.SUBMITTED.ordinal());
        kvx_request.buffer_index(record, -1);
        kvx_request.created_nanos(record, System.nanoTime());
        kvx_request.block_capacity(record, blocks.length);
        kvx_request.block_count(record, blocks.length);
        MemorySegment.copy(blocks, 0, record, ValueLayout.JAVA_INT, kvx_request.block_ids$offset(), blocks.length);
    }

    /** The serving code's request id. */
    public long id() {
        return id;
    }

    /** The pool the blocks came from. */
    public KvBlockPool pool() {
        return pool;
    }

    /** Marks the request submitted; false if it was submitted before (a handle is submitted once). */
    public boolean markSubmitted() {
        return submitted.compareAndSet(false, true);
    }

    /** Whether it was submitted. */
    public boolean wasSubmitted() {
        return submitted.get();
    }

    /** Hands the outcome to the caller's future. */
    public void complete(TransferOutcome outcome) {
        completion.accept(outcome);
    }

    public synchronized RequestState state() {
        return RequestState.values()[kvx_request.state(live())];
    }

    public synchronized TransferPhase phase() {
        return TransferPhase.values()[kvx_request.phase(live())];
    }

    public synchronized int epoch() {
        return kvx_request.epoch(live());
    }

    public synchronized void setEpoch(int epoch) {
        if (!freed) {
            kvx_request.epoch(record, epoch);
        }
    }

    /** A copy of the block table (empty once the blocks went to quarantine). */
    public synchronized int[] blockIds() {
        MemorySegment r = live();
        int n = kvx_request.block_count(r);
        int[] out = new int[n];
        MemorySegment.copy(r, ValueLayout.JAVA_INT, kvx_request.block_ids$offset(), out, 0, n);
        return out;
    }

    /** Copies the block table into {@code out} (at least {@link #blockCount()} long); returns the count. */
    public synchronized int blockIdsInto(int[] out) {
        MemorySegment r = live();
        int n = kvx_request.block_count(r);
        MemorySegment.copy(r, ValueLayout.JAVA_INT, kvx_request.block_ids$offset(), out, 0, n);
        return n;
    }

    public synchronized int blockCount() {
        return kvx_request.block_count(live());
    }

    public synchronized boolean isFreed() {
        return freed;
    }

    /** Drops the serving code's reference. Idempotent. */
    public void closeByUser() {
        synchronized (this) {
            if (userClosed) {
                return;
            }
            userClosed = true;
        }
        release();
    }

    /** The engine takes its reference. @throws AlreadyClosedException if the owner already closed it */
    public synchronized void retainForEngine() {
        live();
        if (userClosed) {
            throw new AlreadyClosedException("request " + id + " was closed by its owner before submission");
        }
        refs++;
    }

    /** The engine lets go (once, at the terminal outcome). */
    public void releaseFromEngine() {
        release();
    }

    public synchronized boolean cancelRequested() {
        return !freed && kvx_request.cancel_requested(record) != 0;
    }

    /** Sets the cancel flag; false if the record is already freed. */
    public synchronized boolean requestCancel() {
        if (freed) {
            return false;
        }
        kvx_request.cancel_requested(record, 1);
        return true;
    }

    public synchronized void update(RequestState state, TransferPhase phase) {
        if (freed) {
            return;
        }
        kvx_request.state(record, state.ordinal());
        kvx_request.phase(record, phase.ordinal());
    }

    public synchronized void started(long nowNanos, long deadlineNanos) {
        MemorySegment r = live();
        kvx_request.started_nanos(r, nowNanos);
        kvx_request.deadline_nanos(r, deadlineNanos);
    }

    public synchronized void finished(int bufferIndex, int errorCode, long nowNanos) {
        if (freed) {
            return;
        }
        kvx_request.finished_nanos(record, nowNanos);
        kvx_request.buffer_index(record, bufferIndex);
        kvx_request.error_code(record, errorCode);
    }

    public synchronized void setBufferIndex(int index) {
        if (!freed) {
            kvx_request.buffer_index(record, index);
        }
    }

    /** Takes the blocks out of the request (for quarantine); the request no longer frees them. */
    public synchronized int[] detachBlocks() {
        int[] ids = blockIds();
        kvx_request.block_count(record, 0);
        return ids;
    }

    private void release() {
        int[] blocks;
        synchronized (this) {
            if (freed || --refs > 0) {
                return;
            }
            blocks = blockIds();
            freed = true;
            Libc.free(record);
        }
        if (blocks.length > 0) {
            pool.free(blocks);
        }
    }

    private MemorySegment live() {
        if (freed) {
            throw new AlreadyClosedException("request " + id + " was released (its native record is freed)");
        }
        return record;
    }

    @Override
    public String toString() {
        return "request " + id;
    }
}
