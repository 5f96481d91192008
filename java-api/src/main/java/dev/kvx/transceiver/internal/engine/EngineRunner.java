package dev.kvx.transceiver.internal.engine;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs an engine on a dedicated thread (Agrona's {@code AgentRunner}): duty cycles until close is
 * requested, backing off when idle — to at most 50 µs while requests or held transfers are live, to at
 * most 1 ms when there are none (a submission wakes it at once) — then the engine's shutdown.
 */
public final class EngineRunner {
    private final TransceiverEngine engine;
    private final Thread thread;
    private final IdleStrategy busyIdle = new BackoffIdleStrategy(20, 5, 1_000, 50_000);
    private final IdleStrategy quietIdle = new BackoffIdleStrategy(20, 5, 1_000, 1_000_000);

    /** Creates the engine thread (not started) from the factory. */
    public EngineRunner(TransceiverEngine engine, ThreadFactory factory) {
        this.engine = engine;
        this.thread = factory.newThread(this::run);
        if (thread == null) {
            throw new IllegalStateException("the thread factory returned no thread");
        }
    }

    /** The engine thread. */
    public Thread thread() {
        return thread;
    }

    /** Starts the engine thread. */
    public void start() {
        thread.start();
    }

    /** Wakes the engine (a command or a cancel arrived). */
    public void wake() {
        LockSupport.unpark(thread);
    }

    private void run() {
        try {
            while (!engine.isCloseRequested()) {
                int work = engine.doWork();
                if (engine.isBusy()) {
                    quietIdle.reset();
                    busyIdle.idle(work);
                } else {
                    busyIdle.reset();
                    quietIdle.idle(work);
                }
            }
        } finally {
            engine.shutdown();
        }
    }
}
