package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.TransferOutcome;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * Hands outcomes to the callers' futures, never on the engine thread unless asked to: on the configured
 * executor (by default one virtual thread per outcome, so a callback that blocks delays no other
 * outcome), or inline on the polling thread in caller-driven mode. A rejected hand-off (an executor shut
 * down by its owner) completes inline rather than losing the outcome.
 */
final class OutcomeDelivery {
    private static final System.Logger LOG = System.getLogger(OutcomeDelivery.class.getName());
    private final Executor executor; // null: inline
    private final List<Consumer<TransferOutcome>> listeners = new CopyOnWriteArrayList<>();

    OutcomeDelivery(Executor executor) {
        this.executor = executor;
    }

    void addListener(Consumer<TransferOutcome> listener) {
        listeners.add(listener);
    }

    void deliver(RequestRecord record, TransferOutcome outcome) {
        if (executor == null) {
            complete(record, outcome);
            return;
        }
        try {
            executor.execute(() -> complete(record, outcome));
        } catch (RejectedExecutionException e) {
            complete(record, outcome);
        }
    }

    private void complete(RequestRecord record, TransferOutcome outcome) {
        for (Consumer<TransferOutcome> l : listeners) {
            try {
                l.accept(outcome);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "an outcome listener failed", e);
            }
        }
        record.complete(outcome);
    }
}
