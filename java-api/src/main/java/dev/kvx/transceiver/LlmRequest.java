package dev.kvx.transceiver;

import dev.kvx.AlreadyClosedException;
import dev.kvx.internal.gen.request.kvx_request;
import dev.kvx.kv.KvBlockPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;

/**
 * One request's handle. Its transfer state lives in a native {@code kvx_request} record
 * ({@code native-headers/kvx_request.h}) in the request's <b>own arena</b>, together with its KV block
 * table. Two references keep it alive — the serving code's (dropped by {@link #close()}) and the
 * engine's (dropped at the request's terminal outcome) — and the record and its blocks are freed only
 * when both are gone. Reading a freed request throws {@link AlreadyClosedException}: the reference's
 * use-after-free (F1) cannot happen. Thread-safe.
 */
public final class LlmRequest implements AutoCloseable {
    private final long id;
    private final KvBlockPool pool;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment record;
    private final CompletableFuture<TransferOutcome> outcome = new CompletableFuture<>();
    private int refs = 1;
    private boolean userClosed;
    private boolean freed;

    LlmRequest(long id, KvBlockPool pool, int[] blocks, int epoch) {
        this.id = id;
        this.pool = pool;
        long size = kvx_request.layout().byteSize() + 4L * blocks.length;
        this.record = arena.allocate(size, 8);
        kvx_request.request_id(record, id);
        kvx_request.epoch(record, epoch);
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

    /** The current state. @throws AlreadyClosedException once freed */
    public synchronized RequestState state() {
        return RequestState.values()[kvx_request.state(live())];
    }

    /** The current transfer phase. @throws AlreadyClosedException once freed */
    public synchronized TransferPhase phase() {
        return TransferPhase.values()[kvx_request.phase(live())];
    }

    /** The attempt number carried in every wire message. */
    public synchronized int epoch() {
        return kvx_request.epoch(live());
    }

    /** A copy of the KV block table (empty once the blocks went to quarantine). */
    public synchronized int[] blockIds() {
        MemorySegment r = live();
        int n = kvx_request.block_count(r);
        int[] out = new int[n];
        MemorySegment.copy(r, ValueLayout.JAVA_INT, kvx_request.block_ids$offset(), out, 0, n);
        return out;
    }

    /** Number of blocks in the table. */
    public synchronized int blockCount() {
        return kvx_request.block_count(live());
    }

    /** The outcome of its transfer, completed exactly once. */
    public CompletableFuture<TransferOutcome> outcome() {
        return outcome;
    }

    /** Whether both references are gone and the native record was freed. */
    public synchronized boolean isFreed() {
        return freed;
    }

    /** Drops the serving code's reference. Idempotent. The record lives on while the engine holds it. */
    @Override
    public void close() {
        synchronized (this) {
            if (userClosed) {
                return;
            }
            userClosed = true;
        }
        release();
    }

    // ---- engine side (package-private)

    synchronized void retainForEngine() {
        live();
        if (userClosed) {
            throw new AlreadyClosedException("request " + id + " was closed by its owner before submission");
        }
        refs++;
    }

    void releaseFromEngine() {
        release();
    }

    synchronized boolean cancelRequested() {
        return !freed && kvx_request.cancel_requested(record) != 0;
    }

    synchronized void requestCancel() {
        kvx_request.cancel_requested(live(), 1);
    }

    synchronized void update(RequestState state, TransferPhase phase) {
        if (freed) {
            return;
        }
        kvx_request.state(record, state.ordinal());
        kvx_request.phase(record, phase.ordinal());
    }

    synchronized void started(long nowNanos, long deadlineNanos) {
        MemorySegment r = live();
        kvx_request.started_nanos(r, nowNanos);
        kvx_request.deadline_nanos(r, deadlineNanos);
    }

    synchronized void finished(int bufferIndex, int errorCode) {
        if (freed) {
            return;
        }
        kvx_request.finished_nanos(record, System.nanoTime());
        kvx_request.buffer_index(record, bufferIndex);
        kvx_request.error_code(record, errorCode);
    }

    synchronized void setBufferIndex(int index) {
        if (!freed) {
            kvx_request.buffer_index(record, index);
        }
    }

    /** Takes the blocks out of the request (for quarantine); the request no longer frees them. */
    synchronized int[] detachBlocks() {
        int[] ids = blockIds();
        kvx_request.block_count(record, 0);
        return ids;
    }

    private void release() {
        int[] blocks = null;
        synchronized (this) {
            if (freed || --refs > 0) {
                return;
            }
            blocks = blockIds();
            freed = true;
            arena.close();
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
        return "LlmRequest[" + id + "]";
    }
}
