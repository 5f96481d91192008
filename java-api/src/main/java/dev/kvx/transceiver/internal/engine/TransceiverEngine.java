package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.NanoClock;

import dev.kvx.KvxException;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransferMode;
import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.PoolInfo;
import java.security.SecureRandom;
import java.util.AbstractList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The progress engine of one transceiver (Aeron's conductor): one duty cycle, {@link #doWork()}, that
 * takes callers' commands, takes NIXL's notifications through the {@link WireDispatcher}, advances every
 * request through the {@link RequestStateMachine}, sweeps the {@link TimedResources} and lets the
 * {@link PeerTable} probe peers. One thread runs it at a time — a dedicated engine thread
 * ({@link EngineRunner}) or, in caller-driven mode, whichever thread calls the transceiver's
 * {@code poll()} — and that thread alone touches the NIXL agent and the request records' engine state.
 * Callers reach it only through the command queue.
 */
public final class TransceiverEngine {
    private static final System.Logger LOG = System.getLogger(TransceiverEngine.class.getName());

    /** What a caller asks of the engine. */
    private sealed interface Command {
        record Submit(RequestTask task) implements Command {}

        record Connect(byte[] metadata, String storeName, CompletableFuture<String> future) implements Command {}

        record Admit(byte[] metadata, CompletableFuture<String> future) implements Command {}

        record Run(Runnable action) implements Command {}
    }

    private final String name;
    private final CacheTransceiverConfig config;
    private final NanoClock clock;
    private final AgentPort port;
    private final KvBlockPool pool;
    private final EngineCounters counters = new EngineCounters();
    private final BufferIndexPool sendSlots;
    private final BufferIndexPool recvSlots;
    private final RequestTable table = new RequestTable();
    private final TimedResources resources;
    private final PeerTable peers;
    private final RequestStateMachine requests;
    private final WireDispatcher dispatcher;
    private final AgentPort.Prepared localBlocks;
    private final OutcomeDelivery delivery;
    private final byte[] localMetadata;
    private final ConcurrentLinkedQueue<Command> commands = new ConcurrentLinkedQueue<>();
    /** Peers whose metadata was admitted (loaded so that they can connect), oldest first; engine-confined. */
    private final java.util.LinkedHashSet<String> admitted = new java.util.LinkedHashSet<>();
    private final AtomicInteger epochs = new AtomicInteger();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile boolean closeRequested;
    private volatile boolean closed;
    // gauges for other threads, refreshed each cycle
    private volatile int liveTasks;
    private volatile int heldResources;
    private volatile int liveSessions;
    private volatile int unhealthySessions;
    private volatile int pendingAnnounces;

    /**
     * Builds the engine over a port whose agent has the pool's region registered.
     *
     * @param port the agent; the engine owns it from now on and destroys it at shutdown
     * @param executor where outcomes are delivered; null to complete them inline on the engine's thread
     */
    public TransceiverEngine(String name, CacheTransceiverConfig config, SharedSecret secret, KvBlockPool pool, AgentPort port,
                             NanoClock clock, Executor executor) {
        this.name = name;
        this.config = config;
        this.clock = clock;
        this.port = port;
        this.pool = pool;
        this.sendSlots = new BufferIndexPool(config.sendBufferCount());
        this.recvSlots = new BufferIndexPool(config.recvBufferCount());
        MacKey handshakeKey = new MacKey(secret.derive("kvx/2 handshake"));
        MessageSender sender = new MessageSender(port, config.faults(), counters, handshakeKey);
        this.resources = new TimedResources(pool, config, counters, sender);
        this.localMetadata = port.localMetadata();
        this.localBlocks = port.prepare(null, pool.region().kind(), blockDescriptors(pool));
        long instance = new SecureRandom().nextLong();
        PoolInfo local = poolInfo(pool, config.transferMode());
        RequestStateMachine[] sm = new RequestStateMachine[1];
        this.peers = new PeerTable(port, sender, counters, config, secret, local, name, instance, new PeerTable.Listener() {
            @Override
            public void sessionLost(Session s, RuntimeException cause) {
                long now = clock.nanoTime();
                sm[0].sessionLost(s, cause, now);
                resources.sessionLost(s);
            }

            @Override
            public boolean unknownAgent(String from, long sid, dev.kvx.transceiver.internal.wire.WireMessage.Hello h) {
                return lookUp(from, sid, h);
            }

            @Override
            public boolean unknownIncarnation(String from, long sid, dev.kvx.transceiver.internal.wire.WireMessage.Hello h) {
                return lookUp(from, sid, h); // the store says whether it restarted (other connection info) or not
            }
        }, peer -> sm[0].waitersFor(peer));
        this.delivery = new OutcomeDelivery(executor);
        this.requests = new RequestStateMachine(name, clock, config, port, pool, sendSlots, recvSlots, table, resources, peers, sender,
                counters, delivery, localBlocks);
        sm[0] = requests;
        this.dispatcher = new WireDispatcher(name, peers, requests, counters, handshakeKey);
        EngineWarmup.run(port, handshakeKey, executor);
    }

    private static PoolInfo poolInfo(KvBlockPool pool, TransferMode mode) {
        KvCacheLayout l = pool.layout();
        return new PoolInfo(pool.region().kind() == MemoryKind.VRAM, pool.region().deviceId(), pool.region().address(),
                l.blockBytes(), pool.capacity(), l.layers(), l.kvHeads(), l.headSize(), l.dtypeBytes(), l.tokensPerBlock(),
                mode == TransferMode.PULL);
    }

    private static List<MemoryDescriptor> blockDescriptors(KvBlockPool pool) {
        return new AbstractList<>() {
            @Override
            public MemoryDescriptor get(int i) {
                return pool.descriptor(i);
            }

            @Override
            public int size() {
                return pool.capacity();
            }
        };
    }

    // ---------------------------------------------------------------- peers found through a metadata store

    /** Looks up an agent's metadata by name (in etcd); completes with empty when there is none. */
    public interface MetadataResolver {
        CompletableFuture<java.util.Optional<byte[]>> fetch(String agent);
    }

    private volatile MetadataResolver resolver;
    private final java.util.Map<String, java.util.List<Object[]>> awaitingMetadata = new java.util.HashMap<>();
    private int awaitingCount;

    /** Lets the engine look up the metadata of agents that say Hello before they were admitted (etcd mode). */
    public void resolveUnknownAgentsWith(MetadataResolver r) {
        this.resolver = r;
    }

    private boolean lookUp(String from, long sid, dev.kvx.transceiver.internal.wire.WireMessage.Hello h) {
        MetadataResolver r = resolver;
        if (r == null || awaitingCount >= config.limits().maxPendingHandshakes()) {
            return false;
        }
        java.util.List<Object[]> waiting = awaitingMetadata.get(from);
        boolean first = waiting == null;
        if (first) {
            waiting = new java.util.ArrayList<>();
            awaitingMetadata.put(from, waiting);
        }
        waiting.add(new Object[] {sid, h});
        awaitingCount++;
        if (first) {
            r.fetch(from).whenComplete((md, err) -> execute(() -> metadataArrived(from, md, err)));
        }
        return true;
    }

    private void metadataArrived(String from, java.util.Optional<byte[]> md, Throwable err) {
        java.util.List<Object[]> waiting = awaitingMetadata.remove(from);
        if (waiting == null) {
            return;
        }
        awaitingCount -= waiting.size();
        String problem = null;
        if (err != null || md == null || md.isEmpty()) {
            problem = err != null ? err.getMessage() : "no metadata of it in the store";
        } else if (md.get().length > config.limits().maxMetadataBytes()) {
            problem = "its metadata has " + md.get().length + " B (maxMetadataBytes " + config.limits().maxMetadataBytes() + ")";
        } else {
            try {
                String loaded = loadFromStore(md.get(), from);
                if (!loaded.equals(from)) {
                    problem = "the store's metadata under that name is agent '" + loaded + "'";
                }
            } catch (RuntimeException e) {
                problem = "loading its metadata failed: " + e.getMessage();
            }
        }
        if (problem != null) {
            counters.refusedHandshakes.addAndGet(waiting.size());
            LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": handshake from '" + from + "' not answered: " + problem);
            return;
        }
        long now = clock.nanoTime();
        for (Object[] w : waiting) {
            peers.onHelloResolved(from, (Long) w[0], (dev.kvx.transceiver.internal.wire.WireMessage.Hello) w[1], now);
        }
    }

    /**
     * Loads metadata read from the store under {@code storeName} (null: not from the store). NIXL refuses
     * other connection info for an agent it holds: then the store, which every deployment's agents publish
     * to, says that agent restarted; its old incarnation is lost (its sessions end, its requests fail,
     * this side's endpoint to it is dropped) and the new metadata is loaded.
     */
    private String loadFromStore(byte[] metadata, String storeName) {
        try {
            return port.loadRemote(metadata);
        } catch (RuntimeException e) {
            if (storeName == null || !port.hasRemote(storeName)) {
                throw e;
            }
            LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": peer " + storeName + " restarted (the metadata store holds other "
                    + "connection info under its name); its old incarnation is gone");
            peers.lostPeer(storeName, new KvxException("peer " + storeName + " restarted under the same name"));
            if (port.hasRemote(storeName)) {
                port.invalidateRemote(storeName);
            }
            return port.loadRemote(metadata);
        }
    }

    /** Publishes this side's metadata to the store again (after an etcd restart lost it). */
    public void republish() {
        execute(() -> {
            try {
                port.publishMetadata();
                counters.metadataPublishes.incrementAndGet();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": publishing metadata again failed", e);
            }
        });
    }

    // ---------------------------------------------------------------- callers' side (any thread)

    /** This side's metadata, as the agent reported it after the pool's registration. */
    public byte[] localMetadata() {
        return localMetadata.clone();
    }

    /** The next attempt number of this transceiver (unique for its lifetime). */
    public int nextEpoch() {
        return epochs.incrementAndGet();
    }

    /** The engine's clock. */
    public NanoClock clock() {
        return clock;
    }

    /** Queues a submission; the caller retained the record and validated everything. */
    public void submit(RequestRecord record, String peer, boolean contextSide, long startNanos) {
        long deadline = startNanos + CacheTransceiverConfig.nanos(config.kvTransferTimeout());
        int epoch = nextEpoch();
        record.setEpoch(epoch);
        record.started(startNanos, deadline);
        record.update(dev.kvx.transceiver.RequestState.IN_TRANSFER, dev.kvx.transceiver.TransferPhase.SUBMITTED);
        int blocks = record.blockCount();
        RequestTask t = new RequestTask(record, peer, contextSide, config.transferMode() == TransferMode.PULL, epoch, startNanos,
                deadline, blocks, blocks * pool.layout().blockBytes());
        counters.submitted.incrementAndGet();
        commands.add(new Command.Submit(t));
    }

    /** Loads a peer's metadata and runs the handshake; completes with the peer's name once the session is up. */
    public CompletableFuture<String> connect(byte[] metadata) {
        return connect(metadata, null);
    }

    /**
     * {@link #connect(byte[])} with metadata read from the metadata store under {@code storeName}: if an
     * agent of that name is loaded here with other connection info, it restarted, and its old incarnation
     * is lost first.
     */
    public CompletableFuture<String> connect(byte[] metadata, String storeName) {
        CompletableFuture<String> f = new CompletableFuture<>();
        commands.add(new Command.Connect(metadata.clone(), storeName, f));
        return f;
    }

    /** Loads a peer's metadata, so that it can connect to this side; completes with its name. */
    public CompletableFuture<String> admit(byte[] metadata) {
        CompletableFuture<String> f = new CompletableFuture<>();
        commands.add(new Command.Admit(metadata.clone(), f));
        return f;
    }

    /** Runs an action on the engine's thread (tests use it to play a misbehaving peer). */
    public void execute(Runnable action) {
        commands.add(new Command.Run(action));
    }

    /**
     * Test hook (engine thread): sends a message to the peer in its newest session, framed and MAC'd as
     * the engine would — a peer that says things it should not.
     */
    public void sendRawForTest(String peer, dev.kvx.transceiver.internal.wire.WireMessage m) {
        Session s = peers.newest(peer);
        if (s == null) {
            throw new IllegalStateException("no session with " + peer);
        }
        new MessageSender(port, dev.kvx.transceiver.FaultInjector.NONE, counters, null).send(s, m);
    }

    /**
     * Test hook (engine thread): sends a message to the peer in its newest session, as {@link #sendRawForTest}
     * does, and returns the frame that went on the wire (what an eavesdropper would have captured).
     */
    public byte[] captureForTest(String peer, dev.kvx.transceiver.internal.wire.WireMessage m) {
        Session s = peers.newest(peer);
        if (s == null) {
            throw new IllegalStateException("no session with " + peer);
        }
        byte[] frame = dev.kvx.transceiver.internal.wire.WireCodec.encode(m, s.id, s.takeSeq(), s.sendKey);
        port.sendNotification(peer, frame);
        return frame;
    }

    /** Test hook (engine thread): sends raw bytes to the peer, outside any session. */
    public void sendRawBytesForTest(String peer, byte[] bytes) {
        port.sendNotification(peer, bytes);
    }

    /** Asks the engine to shut down at the end of the current cycle. */
    public void requestClose() {
        closeRequested = true;
    }

    public boolean isCloseRequested() {
        return closeRequested;
    }

    /** Waits until the engine has shut down. @return whether it did within the timeout */
    public boolean awaitTermination(long nanos) throws InterruptedException {
        return terminated.await(nanos, TimeUnit.NANOSECONDS);
    }

    public boolean isTerminated() {
        return terminated.getCount() == 0;
    }

    /** Whether no request is live and nothing is held (quarantines, abandoned transfers) and no command waits. */
    public boolean isQuiescent() {
        // submitted is counted before a submission is queued and an outcome when it is decided: equal counts mean
        // no submission is live, from whatever point of a tick another thread looks (the gauges lag to its end)
        long submitted = counters.submitted.get();
        long ended = counters.completed.get() + counters.timedOut.get() + counters.cancelled.get() + counters.failed.get();
        return submitted == ended && liveTasks == 0 && heldResources == 0 && commands.isEmpty();
    }

    /** Whether requests or held resources are live (the idle strategy backs off less then). */
    public boolean isBusy() {
        return liveTasks > 0 || heldResources > 0;
    }

    public EngineCounters counters() {
        return counters;
    }

    public KvBlockPool pool() {
        return pool;
    }

    public int sendSlotsInUse() {
        return sendSlots.inUse();
    }

    public int recvSlotsInUse() {
        return recvSlots.inUse();
    }

    /** Adds a listener that sees every outcome, on the delivery thread, before the caller's future completes. */
    public void addOutcomeListener(java.util.function.Consumer<TransferOutcome> listener) {
        delivery.addListener(listener);
    }

    /** Whether a live session with that peer exists. */
    public boolean isConnected(String peer) {
        return peers.isConnected(peer);
    }

    public int liveSessions() {
        return liveSessions;
    }

    public int unhealthySessions() {
        return unhealthySessions;
    }

    public int pendingAnnounces() {
        return pendingAnnounces;
    }

    public int liveTasks() {
        return liveTasks;
    }

    /** The port, for the thread that runs the engine (caller-driven mode hands it the agent). */
    public AgentPort port() {
        return port;
    }

    // ---------------------------------------------------------------- the duty cycle (engine thread)

    /**
     * One duty cycle. Must be called by one thread at a time (the runner, or the caller-driven
     * transceiver's poll, which guards it).
     *
     * @return the work done (0: nothing happened)
     */
    public int doWork() {
        long now = clock.nanoTime();
        int work = 0;
        try {
            work += drainCommands(now);
            dispatcher.at(now);
            work += port.pollNotifications(config.limits().maxMessageBytes(), dispatcher);
        } catch (Throwable t) { // the loop itself must survive anything
            counters.engineErrors.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "kvx engine " + name + ": unexpected error outside request handling", t);
        }
        try {
            work += requests.tick(now);
            int swept = resources.sweep(now, peers.sessions());
            work += swept;
            peers.updateHealth(now);
            work += peers.tick(now);
        } catch (Throwable t) {
            counters.engineErrors.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "kvx engine " + name + ": unexpected error outside request handling", t);
        }
        counters.ticks.incrementAndGet();
        publishGauges();
        return work;
    }

    private void publishGauges() {
        int tasks = table.size();
        int held = resources.quarantineCount() + resources.abandonedCount();
        int pending = resources.pendingCount();
        if (tasks != liveTasks) {
            liveTasks = tasks;
        }
        if (held != heldResources) {
            heldResources = held;
        }
        if (pending != pendingAnnounces) {
            pendingAnnounces = pending;
        }
        if (!peers.sessions().isEmpty() || liveSessions != 0) {
            liveSessions = peers.liveCount();
            unhealthySessions = peers.unhealthyCount();
        }
    }

    private int drainCommands(long now) {
        int work = 0;
        Command c;
        while ((c = commands.poll()) != null) {
            work++;
            try {
                switch (c) {
                    case Command.Submit s -> requests.intake(s.task(), now);
                    case Command.Connect k -> connectNow(k.metadata(), k.storeName(), k.future(), now);
                    case Command.Admit a -> admitNow(a.metadata(), a.future());
                    case Command.Run r -> r.action().run();
                }
            } catch (Throwable t) {
                counters.engineErrors.incrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "kvx engine " + name + ": command failed", t);
                if (c instanceof Command.Submit s) {
                    requests.refuse(s.task(), TransferOutcome.Status.FAILED, "submission failed: " + t, now);
                }
            }
        }
        return work;
    }

    private void connectNow(byte[] metadata, String storeName, CompletableFuture<String> future, long now) {
        String peer;
        try {
            peer = loadFromStore(metadata, storeName);
        } catch (RuntimeException e) {
            future.completeExceptionally(new KvxException("could not load the peer's metadata (" + metadata.length + " B): "
                    + e.getMessage(), e));
            return;
        }
        if (peer.equals(name)) {
            future.completeExceptionally(new KvxException("that metadata is this transceiver's own ('" + name + "')"));
            return;
        }
        peers.connect(peer, future, now);
    }

    private void admitNow(byte[] metadata, CompletableFuture<String> future) {
        String peer;
        try {
            peer = port.loadRemote(metadata);
        } catch (RuntimeException e) {
            future.completeExceptionally(new KvxException("could not load the peer's metadata (" + metadata.length + " B): "
                    + e.getMessage(), e));
            return;
        }
        admitted.add(peer);
        evictUnconnectedAdmissions();
        future.complete(peer);
    }

    /**
     * The metadata copies of admitted peers that have no session (they were let in but never connected,
     * or their handshake lapsed) are capped at {@code maxPendingHandshakes}: the oldest go (such a peer is
     * admitted again to connect). A copy whose peer has a session is the peer table's to release.
     */
    private void evictUnconnectedAdmissions() {
        int waiting = 0;
        for (java.util.Iterator<String> it = admitted.iterator(); it.hasNext(); ) {
            String n = it.next();
            if (!port.hasRemote(n)) {
                it.remove(); // released already (its session ended)
            } else if (!peers.hasSession(n)) {
                waiting++;
            }
        }
        for (java.util.Iterator<String> it = admitted.iterator(); waiting > config.limits().maxPendingHandshakes() && it.hasNext(); ) {
            String n = it.next();
            if (peers.hasSession(n)) {
                continue;
            }
            it.remove();
            waiting--;
            try {
                port.invalidateRemote(n);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "releasing the metadata of " + n, e);
            }
            counters.peersEvicted.incrementAndGet();
            LOG.log(System.Logger.Level.INFO, () -> "kvx " + name + ": released the metadata of " + n + ", admitted but never "
                    + "connected, to admit a newer peer (maxPendingHandshakes " + config.limits().maxPendingHandshakes() + ")");
        }
    }

    /**
     * Ends everything (engine thread, once): queued submissions and live requests end CANCELLED (peers
     * told), abandoned transfers are released, handshakes fail, the agent is destroyed. Quarantined
     * blocks stay quarantined in the pool (no proof arrived). Then outcomes are all handed out.
     */
    public void shutdown() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            long now = clock.nanoTime();
            String why = "cancelled: transceiver " + name + " closed";
            Command c;
            while ((c = commands.poll()) != null) {
                switch (c) {
                    case Command.Submit s -> requests.refuse(s.task(), TransferOutcome.Status.CANCELLED, why, now);
                    case Command.Connect k -> k.future().completeExceptionally(new KvxException("transceiver " + name + " closed"));
                    case Command.Admit a -> a.future().completeExceptionally(new KvxException("transceiver " + name + " closed"));
                    case Command.Run r -> { }
                }
            }
            requests.cancelAll(why, now);
            settle();
            int left = resources.close();
            if (left > 0) {
                LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": closed with " + left + " block(s) still quarantined in the pool: "
                        + "their peers never proved their transfers over (use drain() to wait for proofs)");
            }
            peers.closeAll("transceiver " + name + " closed");
            try {
                port.withdrawMetadata(); // peers cannot find this side any more (etcd mode)
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": withdrawing metadata from the store failed", e);
            }
        } catch (Throwable t) {
            counters.engineErrors.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, "kvx engine " + name + ": error during shutdown", t);
        } finally {
            try {
                localBlocks.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "release of the local block list", e);
            }
            try {
                port.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": destroying the NIXL agent reported problems", e);
            }
            publishGauges();
            terminated.countDown();
        }
    }

    /**
     * After the live requests ended: keeps taking notifications for a bounded time (at least 20 ms, so
     * the Abort notices leave; at most half the close timeout, 1 s at most) until every quarantine is
     * proven over by its peer's answer and every abandoned transfer ended. Wall time, also under a fake clock.
     */
    private void settle() {
        long start = System.nanoTime();
        long bound = Math.min(CacheTransceiverConfig.nanos(config.closeTimeout()) / 2, TimeUnit.SECONDS.toNanos(1));
        long min = TimeUnit.MILLISECONDS.toNanos(20);
        while (true) {
            long elapsed = System.nanoTime() - start;
            if (elapsed >= bound || (elapsed >= min && resources.isEmpty())) {
                return;
            }
            try {
                long now = clock.nanoTime();
                dispatcher.at(now);
                port.pollNotifications(config.limits().maxMessageBytes(), dispatcher);
                resources.sweep(now, peers.sessions());
                peers.tick(now);
            } catch (RuntimeException e) {
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
    }

    public String name() {
        return name;
    }
}
