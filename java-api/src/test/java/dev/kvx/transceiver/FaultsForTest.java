package dev.kvx.transceiver;

import java.time.Duration;
import java.util.Random;

/** Switchable faults for the transceiver tests. */
final class FaultsForTest implements FaultInjector {
    volatile boolean dropAnnounce;
    volatile boolean withholdTransfers;
    volatile boolean dropReleased;
    volatile boolean dropAbort;
    volatile Duration lateTransfer = Duration.ZERO;
    volatile long throwForRequest = Long.MIN_VALUE;
    volatile long throwErrorForRequest = Long.MIN_VALUE;
    private long seed;
    private double rate;

    /** Each fault kind hits each request with probability {@code rate}, decided once per request. */
    static FaultsForTest random(long seed, double rate) {
        FaultsForTest f = new FaultsForTest();
        f.seed = seed;
        f.rate = rate;
        return f;
    }

    private boolean roll(long requestId, int kind) {
        return rate > 0 && new Random(seed * 1_000_003L + requestId * 31 + kind).nextDouble() < rate;
    }

    @Override
    public void beforeStep(long requestId, TransferPhase phase) {
        if (requestId == throwErrorForRequest) {
            throw new StackOverflowError("injected Error (not an Exception) in request " + requestId);
        }
        if (requestId == throwForRequest || roll(requestId, 1)) {
            throw new IllegalStateException("injected failure in request " + requestId + " at " + phase);
        }
    }

    @Override
    public boolean dropOutgoing(Message message, long requestId) {
        return (dropAnnounce && message == Message.ANNOUNCE) || (dropReleased && message == Message.RELEASED)
                || (dropAbort && message == Message.ABORT) || roll(requestId, 10 + message.ordinal());
    }

    @Override
    public boolean withholdTransfer(long requestId) {
        return withholdTransfers || roll(requestId, 3);
    }

    @Override
    public Duration lateTransfer(long requestId) {
        return lateTransfer;
    }
}
