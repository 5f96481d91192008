package dev.kvx.transceiver;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * The reference transceiver's API (TensorRT-LLM's {@code respondAndSendAsync},
 * {@code requestAndReceiveAsync}, {@code checkContextTransferStatus(atLeast)} / {@code (blockAll)},
 * {@code checkGenTransferStatus(atLeast)}, {@code cancelRequest}) over a {@link CacheTransceiver} and one
 * peer, so that serving code written against the reference ports directly. Unlike the reference, every
 * waiting form of a check is bounded: never past the latest pending deadline plus one
 * {@code kvTransferSenderFutureTimeout} (F11), and {@code atLeast = 0} never waits. Thread-safe.
 */
public final class ReferenceTransceiver {
    private final CacheTransceiver transceiver;
    private final String peer;
    private final List<LlmRequest> ctxTracked = new ArrayList<>();
    private final List<LlmRequest> genTracked = new ArrayList<>();

    /** The reference API over {@code transceiver}, talking to {@code peer}. */
    public ReferenceTransceiver(CacheTransceiver transceiver, String peer) {
        this.transceiver = Objects.requireNonNull(transceiver, "transceiver");
        this.peer = Objects.requireNonNull(peer, "peer");
    }

    /** Ids reported by a check. */
    public record CheckResult(List<Long> completed, List<Long> failed) {}

    /** Reference {@code respondAndSendAsync}: the context side sends the request's blocks to the peer. */
    public void respondAndSendAsync(LlmRequest request) {
        transceiver.send(request, peer);
        synchronized (ctxTracked) {
            ctxTracked.add(request);
        }
    }

    /** Reference {@code requestAndReceiveAsync}: the generation side receives the request's blocks from the peer. */
    public void requestAndReceiveAsync(LlmRequest request) {
        transceiver.receive(request, peer);
        synchronized (genTracked) {
            genTracked.add(request);
        }
    }

    /** Reference {@code cancelRequest}. */
    public boolean cancelRequest(LlmRequest request) {
        return transceiver.cancelRequest(request);
    }

    /**
     * Reference {@code checkContextTransferStatus(atLeast)}: waits (bounded) until at least
     * {@code atLeast} tracked context requests have their outcome, then reports and forgets every
     * finished one. {@code atLeast = 0} never waits.
     */
    public CheckResult checkContextTransferStatus(int atLeast) throws InterruptedException {
        return check(ctxTracked, atLeast, false);
    }

    /** Reference {@code checkContextTransferStatus(blockAll)}: waits for all, bounded the same way. */
    public CheckResult checkContextTransferStatusBlockAll() throws InterruptedException {
        return check(ctxTracked, Integer.MAX_VALUE, true);
    }

    /** Reference {@code checkGenTransferStatus(atLeast)}. */
    public CheckResult checkGenTransferStatus(int atLeast) throws InterruptedException {
        return check(genTracked, atLeast, false);
    }

    private CheckResult check(List<LlmRequest> tracked, int atLeast, boolean all) throws InterruptedException {
        if (atLeast < 0) {
            throw new IllegalArgumentException("atLeast must be >= 0, got " + atLeast);
        }
        List<LlmRequest> snapshot;
        synchronized (tracked) {
            snapshot = List.copyOf(tracked);
        }
        int want = all ? snapshot.size() : Math.min(atLeast, snapshot.size());
        CacheTransceiverConfig c = transceiver.config();
        // Every pending request ends by its own deadline (the engine enforces it), so this wait is bounded.
        long bound = System.nanoTime() + CacheTransceiverConfig.nanos(c.kvTransferTimeout())
                + CacheTransceiverConfig.nanos(c.kvTransferSenderFutureTimeout());
        long pause = 10_000;
        while (done(snapshot) < want && System.nanoTime() - bound < 0) {
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted in a transfer status check");
            }
            LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, 1_000_000);
        }
        List<Long> completed = new ArrayList<>();
        List<Long> failed = new ArrayList<>();
        synchronized (tracked) {
            for (Iterator<LlmRequest> it = tracked.iterator(); it.hasNext(); ) {
                LlmRequest r = it.next();
                if (!r.outcome().isDone()) {
                    continue;
                }
                TransferOutcome o = r.outcome().isCancelled() ? null : r.outcome().getNow(null);
                (o != null && o.isCompleted() ? completed : failed).add(r.id());
                it.remove();
            }
        }
        return new CheckResult(completed, failed);
    }

    private static int done(List<LlmRequest> requests) {
        int n = 0;
        for (LlmRequest r : requests) {
            n += r.outcome().isDone() ? 1 : 0;
        }
        return n;
    }
}
