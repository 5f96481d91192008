package dev.kvx.transceiver.internal.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.FaultInjector;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransferMode;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Two real {@link TransceiverEngine}s — a context side and a generation side — over {@link FakeAgentPort}s
 * and one {@link FakeClock}, driven by calling {@code doWork()} on this thread: no engine thread, no
 * sleep, no wall-clock time (except the bounded settle of {@code shutdown()}). They connect through the
 * real handshake (the generation side initiates after the context side admitted its metadata), and
 * outcomes are completed inline (null executor), so every effect of a step is visible when it returns.
 */
final class EngineHarness implements AutoCloseable {
    /** 32-byte blocks: small, and several descriptors per request. */
    static final KvCacheLayout LAYOUT = new KvCacheLayout(1, 1, 1, 8, 2);
    static final Duration CHECK = Duration.ofMillis(100);

    final FakeClock clock;
    final FakeAgentPort.Network net = new FakeAgentPort.Network();
    final SharedSecret secret = SharedSecret.generate();
    final TransferMode mode;
    final Side ctx;
    final Side gen;
    final List<Req> requests = new ArrayList<>();
    /** Every side, the context and generation sides first. */
    final List<Side> sides = new ArrayList<>();

    /** A config for these tests: the given deadline, quarantine timeout and slots; 100 ms peer checks; 100 ms close. */
    static CacheTransceiverConfig config(TransferMode mode, Duration deadline, Duration quarantine, int slots) {
        return CacheTransceiverConfig.defaults().withTransferMode(mode).withKvTransferTimeout(deadline).withQuarantineTimeout(quarantine)
                .withBufferCounts(slots, slots).withPeerCheckInterval(CHECK).withCloseTimeout(Duration.ofMillis(100));
    }

    EngineHarness(CacheTransceiverConfig ctxConfig, CacheTransceiverConfig genConfig, int blocks, long clockOrigin) {
        if (ctxConfig.transferMode() != genConfig.transferMode()) {
            throw new IllegalArgumentException("both sides run one mode");
        }
        this.mode = ctxConfig.transferMode();
        this.clock = new FakeClock(clockOrigin);
        this.ctx = new Side("ctx", true, ctxConfig, blocks);
        this.gen = new Side("gen", false, genConfig, blocks);
        sides.add(ctx);
        sides.add(gen);
        connect(gen, ctx);
    }

    /** {@code initiator} connects to {@code acceptor} (which admits its metadata first): one more session. */
    void connect(Side initiator, Side acceptor) {
        CompletableFuture<String> admitted = acceptor.engine.admit(initiator.port.localMetadata());
        CompletableFuture<String> connected = initiator.engine.connect(acceptor.port.localMetadata());
        pump();
        assertEquals(initiator.name, admitted.getNow(null));
        assertEquals(acceptor.name, connected.getNow(null), "handshake did not finish");
        assertTrue(acceptor.engine.isConnected(initiator.name), "the acceptor took the Confirm");
    }

    /** Runs duty cycles on both sides until neither has anything to do. */
    int pump() {
        int total = 0;
        int idle = 0;
        for (int i = 0; i < 10_000; i++) {
            int w = 0;
            for (Side s : sides) {
                w += s.doWork();
            }
            total += w;
            if (w == 0 && ++idle >= 2) {
                return total;
            }
            if (w != 0) {
                idle = 0;
            }
        }
        throw new AssertionError("the engines never went idle");
    }

    /** Another context side, connected to the generation side (whose peer it is). */
    Side addContextSide(String name, CacheTransceiverConfig config, int blocks) {
        Side s = new Side(name, true, config, blocks);
        sides.add(s);
        connect(gen, s);
        return s;
    }

    /** Moves the clock and runs the engines at the new time. */
    void advance(Duration d) {
        clock.advance(d);
        pump();
    }

    /** Moves the clock in steps, running the engines at each (so that periodic work runs as it would). */
    void advanceInSteps(Duration total, Duration step) {
        for (long done = 0; done < total.toNanos(); done += step.toNanos()) {
            advance(step);
        }
    }

    /** Lands every posted transfer that is still in flight and whose handle the engine still holds. */
    int landInFlight() {
        int n = 0;
        for (Side s : sides) {
            for (FakeAgentPort.FakeXfer x : List.copyOf(s.port.transfers)) {
                if (x.posted && !x.postThrew && !x.landed && !x.closed) {
                    x.land(true);
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Ends everything still live: lands what is in flight, then lets every deadline pass, answering
     * re-asks as it goes; afterwards every request must have its outcome.
     */
    void finishEverything() {
        for (int i = 0; i < 20 && landInFlight() > 0; i++) {
            pump();
        }
        pump();
        Duration longest = ctx.config.kvTransferTimeout().compareTo(gen.config.kvTransferTimeout()) > 0 ? ctx.config.kvTransferTimeout()
                : gen.config.kvTransferTimeout();
        Duration step = longest.dividedBy(8);
        for (int i = 0; i < 10; i++) {
            advance(step);
            while (landInFlight() > 0) {
                pump();
            }
        }
        for (Req r : requests) {
            assertEquals(1, r.outcomes.size(), () -> r + " has " + r.outcomes.size() + " outcome(s): " + r.outcomes);
        }
    }

    /** Drops every caller reference (as the serving code closes its handles). */
    void closeAllHandles() {
        for (Req r : requests) {
            r.record.closeByUser();
        }
    }

    /** Slots all back, no block allocated or quarantined on either side. */
    void assertAllFree() {
        for (Side s : sides) {
            assertEquals(0, s.engine.sendSlotsInUse() + s.engine.recvSlotsInUse(), s.name + ": slots");
            assertEquals(0, s.pool.allocatedBlocks(), s.name + ": allocated blocks");
            assertEquals(0, s.pool.quarantinedBlocks(), s.name + ": quarantined blocks");
            assertEquals(s.pool.capacity(), s.pool.freeBlocks(), s.name + ": free blocks");
        }
    }

    /** Neither engine hit an unexpected error, and neither fake agent was misused. */
    void assertNoErrors() {
        for (Side s : sides) {
            assertEquals(0, s.engine.counters().engineErrors.get(), s.name + ": engine errors");
            assertEquals(List.of(), s.port.misuse, s.name + ": agent misuse");
        }
    }

    /** The side that announces in this mode (push: generation; pull: context). */
    Side announcer() {
        return mode == TransferMode.PUSH ? gen : ctx;
    }

    /** The side that moves the data in this mode (push: context WRITEs; pull: generation READs). */
    Side mover() {
        return mode == TransferMode.PUSH ? ctx : gen;
    }

    /**
     * Shuts down the engines that still have live requests (a test that failed half-way), so that every
     * request ends; the others are dropped as they are (they hold nothing outside this JVM's heap but
     * their quarantined blocks, and a shutdown's settle costs 20 ms of wall time each).
     */
    @Override
    public void close() {
        for (Side s : sides) {
            boolean live = false;
            for (Req r : requests) {
                live |= r.side == s && !r.done();
            }
            if (live && !s.engine.isTerminated()) {
                s.engine.requestClose();
                s.engine.shutdown();
            }
        }
        closeAllHandles();
        for (Side s : sides) {
            s.pool.close();
        }
    }

    /** One transceiver's engine, its fake agent and its pool. */
    final class Side {
        final String name;
        final boolean contextSide;
        final CacheTransceiverConfig config;
        final KvBlockPool pool;
        final FakeAgentPort port;
        final TransceiverEngine engine;

        Side(String name, boolean contextSide, CacheTransceiverConfig config, int blocks) {
            this.name = name;
            this.contextSide = contextSide;
            this.config = config;
            this.pool = KvBlockPool.inHostMemory(LAYOUT, blocks, name + "-pool");
            this.port = new FakeAgentPort(name, net, pool.region());
            this.engine = new TransceiverEngine(name, config, secret, pool, port, clock, null);
        }

        /** The side its requests go to: the generation side's is the first context side, every context side's the generation side. */
        Side peer() {
            return this == gen ? ctx : gen;
        }

        int doWork() {
            return engine.isTerminated() ? 0 : engine.doWork();
        }

        /** Submits request {@code id} with {@code blocks} blocks to the other side (context: filled with a pattern). */
        Req submit(long id, int blocks) {
            return submit(id, blocks, clock.nanoTime());
        }

        /** As {@link #submit(long, int)}, as if submitted at {@code startNanos} (its deadline counts from there). */
        Req submit(long id, int blocks, long startNanos) {
            return submitTo(peer(), id, blocks, startNanos);
        }

        /** As {@link #submit(long, int, long)}, to the side {@code to}. */
        Req submitTo(Side to, long id, int blocks, long startNanos) {
            int[] ids = pool.allocate(blocks).orElseThrow(() -> new AssertionError(name + ": pool exhausted"));
            Req r = new Req(this, id, ids);
            for (int b = 0; b < blocks; b++) {
                pool.region().copyFromHost(pool.offset(ids[b]), pattern(id, b, contextSide));
            }
            r.record.markSubmitted();
            r.record.retainForEngine();
            engine.submit(r.record, to.name, contextSide, startNanos);
            requests.add(r);
            return r;
        }

        /** Sends a message to the peer in one of this side's sessions, framed and MAC'd as the engine would. */
        void sendIn(Session s, WireMessage m) {
            new MessageSender(port, FaultInjector.NONE, engine.counters(), null).send(s, m);
        }

        /** The engine's peer table (read on the driving thread, which is the engine's). */
        PeerTable peerTable() {
            try {
                var f = TransceiverEngine.class.getDeclaredField("peers");
                f.setAccessible(true);
                return (PeerTable) f.get(engine);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
        }

        /** This side's sessions. */
        List<Session> sessions() {
            return List.copyOf(peerTable().sessions());
        }

        Session session() {
            List<Session> all = sessions();
            assertEquals(1, all.size(), name + " sessions: " + all);
            return all.getFirst();
        }

        long stale() {
            return engine.counters().staleMessages.get();
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** Bytes a block holds: the context side's KV pattern, or a filler on the generation side. */
    static byte[] pattern(long id, int block, boolean context) {
        byte[] b = new byte[(int) LAYOUT.blockBytes()];
        for (int i = 0; i < b.length; i++) {
            b[i] = context ? (byte) (id * 31 + block * 7 + i) : (byte) 0xEE;
        }
        return b;
    }

    /** One submitted request and the outcomes it received. */
    final class Req {
        final Side side;
        final long id;
        final int[] blocks;
        final RequestRecord record;
        final List<TransferOutcome> outcomes = new ArrayList<>();

        Req(Side side, long id, int[] blocks) {
            this.side = side;
            this.id = id;
            this.blocks = blocks.clone();
            this.record = new RequestRecord(id, side.pool, blocks, outcomes::add);
        }

        boolean done() {
            return !outcomes.isEmpty();
        }

        /** Its one outcome. */
        TransferOutcome outcome() {
            assertEquals(1, outcomes.size(), () -> this + ": outcomes " + outcomes);
            return outcomes.getFirst();
        }

        TransferPhase phase() {
            return record.phase();
        }

        int epoch() {
            return record.epoch();
        }

        void cancel() {
            assertTrue(record.requestCancel());
        }

        /** Whether the generation side's blocks hold what the context side's request held. */
        boolean holdsContextData() {
            for (int b = 0; b < blocks.length; b++) {
                byte[] got = new byte[(int) LAYOUT.blockBytes()];
                side.pool.region().copyToHost(side.pool.offset(blocks[b]), got);
                if (!java.util.Arrays.equals(pattern(id, b, true), got)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public String toString() {
            return side.name + " request " + id + (outcomes.isEmpty() ? " (live, " + record.phase() + ")" : " " + outcomes);
        }
    }
}
