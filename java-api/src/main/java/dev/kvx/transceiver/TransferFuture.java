package dev.kvx.transceiver;

import dev.kvx.transceiver.internal.engine.RequestRecord;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A request's outcome, as {@code HttpClient.sendAsync} hands out its response: only the transceiver
 * completes it, and callers cannot ({@code complete}, {@code completeExceptionally}, {@code obtrude*}
 * and friends throw {@link UnsupportedOperationException}). {@link #cancel(boolean) cancel} cancels the
 * transfer itself: the engine ends it CANCELLED on both sides, releases what it held (or quarantines
 * what a transfer in flight may still touch), and this future completes with a
 * {@link java.util.concurrent.CancellationException}, as the JDK's contract for {@code cancel} says. The
 * request's own state ({@link LlmRequest#state()}) and the transceiver's metrics still record the
 * CANCELLED outcome. Dependent stages ({@code thenApply} …) are ordinary futures.
 */
public final class TransferFuture extends CompletableFuture<TransferOutcome> {
    private final RequestRecord record;
    private final Runnable wakeEngine;

    TransferFuture(RequestRecord record, Runnable wakeEngine) {
        this.record = record;
        this.wakeEngine = wakeEngine;
    }

    void completeByEngine(TransferOutcome outcome) {
        super.complete(outcome);
    }

    /**
     * Cancels the transfer (the engine acts on it within a tick) and this future.
     *
     * @param mayInterruptIfRunning ignored: nothing runs on a caller's thread
     * @return false if the outcome was already there
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        // the future first: once the engine hears of the cancel it may deliver the CANCELLED outcome at once, and
        // a cancel that came second would then report false for the cancellation it caused
        if (isDone() || !super.cancel(mayInterruptIfRunning)) {
            return false;
        }
        record.requestCancel();
        wakeEngine.run();
        return true;
    }

    private static UnsupportedOperationException readOnly() {
        return new UnsupportedOperationException("a transfer's outcome is completed by the transceiver only; "
                + "use cancel(true) to cancel the transfer");
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public boolean complete(TransferOutcome value) {
        throw readOnly();
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public boolean completeExceptionally(Throwable ex) {
        throw readOnly();
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public void obtrudeValue(TransferOutcome value) {
        throw readOnly();
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public void obtrudeException(Throwable ex) {
        throw readOnly();
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public CompletableFuture<TransferOutcome> completeAsync(Supplier<? extends TransferOutcome> supplier, Executor executor) {
        throw readOnly();
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public CompletableFuture<TransferOutcome> completeAsync(Supplier<? extends TransferOutcome> supplier) {
        throw readOnly();
    }

    /** @throws UnsupportedOperationException always */
    @Override
    public CompletableFuture<TransferOutcome> completeOnTimeout(TransferOutcome value, long timeout, TimeUnit unit) {
        throw readOnly();
    }

    /**
     * A copy of this future that completes exceptionally with a {@link java.util.concurrent.TimeoutException}
     * if the outcome is not there in time (this future itself is completed by the transceiver only).
     */
    @Override
    public CompletableFuture<TransferOutcome> orTimeout(long timeout, TimeUnit unit) {
        return copy().orTimeout(timeout, unit);
    }

    /** Dependent stages are plain futures that their creators may complete. */
    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new CompletableFuture<>();
    }

    @Override
    public String toString() {
        return "TransferFuture[" + record + ", " + super.toString() + "]";
    }
}
