package dev.kvx.cli.soak;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One request as the soak's front end sees it: the outcome of its context half and of its generation
 * half, each reported by the worker that ran it, and (across hosts) which two workers those were.
 */
final class SoakRequest {
    /** One side's outcome line ({@code why}: why a REJECTED one was, e.g. {@code pool} or {@code unhealthy}; else empty). */
    record Out(String status, String phase, long latencyNanos, int quarantined, String why) {
        /** The half of a request whose worker process was killed before it reported. */
        static final Out KILLED = new Out("KILLED", "KILLED", 0, 0, "");
    }

    final long id;
    final int blocks;
    final SoakPhase phase;
    final long submitNanos;
    /** The context and generation workers (their agent names). */
    final String ctxWorker;
    final String genWorker;
    volatile Out ctx;
    volatile long ctxAtNanos; // when the context side's outcome reached the driver
    volatile Out gen;
    volatile long genAtNanos;
    private final AtomicInteger duplicates = new AtomicInteger();

    SoakRequest(long id, int blocks, SoakPhase phase, String ctxWorker, String genWorker) {
        this.id = id;
        this.blocks = blocks;
        this.phase = phase;
        this.ctxWorker = ctxWorker;
        this.genWorker = genWorker;
        this.submitNanos = System.nanoTime();
    }

    /** Records the context half's outcome; a second one for the same request is counted, not kept. */
    void ctxOutcome(Out o) {
        if (ctx != null) {
            duplicates.incrementAndGet();
            return;
        }
        ctxAtNanos = System.nanoTime();
        ctx = o;
    }

    /** Records the generation half's outcome; a second one for the same request is counted, not kept. */
    void genOutcome(Out o) {
        if (gen != null) {
            duplicates.incrementAndGet();
            return;
        }
        genAtNanos = System.nanoTime();
        gen = o;
    }

    /** Outcome lines that arrived for a half that already had one (must stay 0: exactly one outcome per side). */
    int duplicates() {
        return duplicates.get();
    }

    boolean done() {
        return ctx != null && gen != null;
    }

    /** When the later of the two outcomes reached the driver (0 while one is missing). */
    long endNanos() {
        return done() ? Math.max(ctxAtNanos, genAtNanos) : 0;
    }

    /** The request's outcome: the generation side's, unless something overrides it. */
    String outcome() {
        Out c = ctx;
        Out g = gen;
        if (g == null || c == null) {
            return "NONE";
        }
        if (g.status().equals("CORRUPT")) {
            return "CORRUPT";
        }
        if (g.status().equals("KILLED")) {
            return "KILLED";
        }
        if (c.status().equals("KILLED")) {
            // the context worker died; blocks that arrived whole and verified still count as completed
            return g.status().equals("COMPLETED") ? "COMPLETED" : "KILLED";
        }
        if (c.status().equals("REJECTED") || g.status().equals("REJECTED")) {
            return "REJECTED";
        }
        if (g.status().equals("COMPLETED") && !c.status().equals("COMPLETED")) {
            return "INCONSISTENT";
        }
        return g.status();
    }
}
