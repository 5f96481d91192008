package dev.kvx.transceiver;

import dev.kvx.AlreadyClosedException;
import dev.kvx.KvxException;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.transceiver.internal.engine.EngineRunner;
import dev.kvx.transceiver.internal.engine.TransceiverEngine;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Moves requests' KV blocks between a context (prefill) and a generation (decode) worker over NIXL, with
 * none of the reference transceiver's failure modes. Build one with {@link #builder}; the reference's
 * API ({@code respondAndSendAsync} …) is {@link ReferenceTransceiver}, on top of this one.
 *
 * {@snippet :
 * try (KvBlockPool pool = KvBlockPool.inHostMemory(KvCacheLayout.small(32), 1024, "kv");
 *      CacheTransceiver gen = CacheTransceiver.builder("decode-0", pool)
 *              .secret(SharedSecret.fromConfiguration())
 *              .build()) {
 *     String ctx = gen.connect(prefillMetadata, Duration.ofSeconds(10)); // after the peer admitted ours
 *     LlmRequest req = gen.createRequest(requestId, blocks);
 *     gen.receive(req, ctx).thenAccept(outcome -> req.close());
 * }
 * }
 *
 * <p><b>Threads.</b> One progress engine owns the NIXL agent and every request's transfer state: a
 * dedicated engine thread (default), or — {@link Builder#callerDriven()} — the serving loop itself,
 * calling {@link #poll()} once per scheduler step, with outcomes completed on that thread (no hand-off).
 * Callers never block the engine and it never blocks; outcomes are delivered on the configured
 * executor (by default a virtual thread each), never on the engine thread, so a callback that blocks
 * delays nobody else's outcome.
 *
 * <p><b>Guarantees.</b> Every accepted submission ends in exactly one {@link TransferOutcome}, also at
 * {@link #close()}. A peer is let in only after proving it holds the shared secret; every message is
 * authenticated and bound to its session, so one peer cannot touch another's requests. Memory a
 * transfer may still touch is never handed out again on a timer, only on proof (README, "Guarantees").
 */
public final class CacheTransceiver implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CacheTransceiver.class.getName());

    private enum Lifecycle { RUNNING, DRAINING, CLOSING }

    private final String name;
    private final CacheTransceiverConfig config;
    private final KvBlockPool pool;
    private final TransceiverEngine engine;
    private final EngineRunner runner; // null: caller-driven
    private final ExecutorService ownedExecutor; // shut down at close, if the builder made it
    private final AtomicReference<Thread> polling = new AtomicReference<>();
    private final Object lifecycleLock = new Object();
    private final TransceiverMetrics metrics;
    private final SharedSecret secret;
    private volatile dev.kvx.transceiver.internal.control.ControlServer controlServer;
    private volatile MetadataStore store; // etcd, or null
    private Lifecycle lifecycle = Lifecycle.RUNNING;

    CacheTransceiver(String name, CacheTransceiverConfig config, KvBlockPool pool, TransceiverEngine engine, EngineRunner runner,
                     ExecutorService ownedExecutor, SharedSecret secret) {
        this.name = name;
        this.secret = secret;
        this.config = config;
        this.pool = pool;
        this.engine = engine;
        this.runner = runner;
        this.ownedExecutor = ownedExecutor;
        this.metrics = new TransceiverMetrics(engine, () -> {
            var c = controlServer;
            return c == null ? 0 : c.refused();
        });
    }

    /** A builder for a transceiver named {@code name} (its NIXL agent's name) over {@code pool}. */
    public static Builder builder(String name, KvBlockPool pool) {
        return new Builder(name, pool);
    }

    /**
     * A transceiver with the secret from configuration ({@link SharedSecret#fromConfiguration()}) and
     * otherwise the builder's defaults.
     */
    public static CacheTransceiver create(String name, CacheTransceiverConfig config, KvBlockPool pool) {
        return builder(name, pool).config(config).build();
    }

    /** This side's agent name. */
    public String name() {
        return name;
    }

    /** The KV block pool. */
    public KvBlockPool pool() {
        return pool;
    }

    /** The settings. */
    public CacheTransceiverConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- peers

    /**
     * This side's NIXL metadata: its connection info and the memory keys of the whole pool. Hand it only
     * to peers you let in (the control channel does that after authenticating them).
     */
    public byte[] localMetadata() {
        return engine.localMetadata();
    }

    /**
     * Loads a peer's metadata so that it can connect to this side (its handshake is answered only then).
     *
     * @return the peer's agent name
     * @throws KvxException if NIXL refuses the metadata
     */
    public String admit(byte[] peerMetadata, Duration timeout) {
        checkMetadata(peerMetadata);
        return await(engine.admit(peerMetadata), timeout, "admitting a peer's metadata");
    }

    /**
     * Connects to a peer: loads its metadata and runs the authenticated handshake (the peer must have
     * admitted this side's metadata). Blocks until the session is up.
     *
     * @return the peer's agent name, to pass to {@link #send}/{@link #receive}
     * @throws KvxException if the peer refused (naming why: another secret, incompatible settings) or
     *         did not answer in time
     */
    public String connect(byte[] peerMetadata, Duration timeout) {
        return await(connectAsync(peerMetadata), timeout, "connecting");
    }

    /** {@link #connect(byte[], Duration)} without blocking (bounded by the config's handshakeTimeout). */
    public CompletableFuture<String> connectAsync(byte[] peerMetadata) {
        checkMetadata(peerMetadata);
        requireRunning();
        CompletableFuture<String> f = engine.connect(peerMetadata);
        wake();
        return f;
    }

    private void requireRunning() {
        synchronized (lifecycleLock) {
            if (lifecycle == Lifecycle.CLOSING) {
                throw new AlreadyClosedException("transceiver " + name + " is closed");
            }
        }
    }

    private void checkMetadata(byte[] md) {
        Objects.requireNonNull(md, "peerMetadata");
        if (md.length == 0 || md.length > config.limits().maxMetadataBytes()) {
            throw new IllegalArgumentException("peer metadata of " + md.length + " B (1.." + config.limits().maxMetadataBytes()
                    + " allowed: maxMetadataBytes)");
        }
    }

    /**
     * Connects to a peer through its control channel: both sides prove they hold the shared secret, swap
     * their metadata encrypted, then run the handshake. This is how peers in other processes and on other
     * hosts connect.
     *
     * @param peerControl the peer's control address ({@link Builder#listen})
     * @return the peer's agent name
     * @throws KvxException naming what failed: unreachable, a wrong secret, refused, incompatible, timeout
     */
    public String connect(java.net.InetSocketAddress peerControl, Duration timeout) {
        Objects.requireNonNull(peerControl, "peerControl");
        requireRunning();
        var answer = dev.kvx.transceiver.internal.control.ControlClient.exchange(peerControl, secret, name, localMetadata(),
                config.limits().maxMetadataBytes(), timeout);
        checkMetadata(answer.metadata());
        String peer = connect(answer.metadata(), timeout);
        if (!peer.equals(answer.name())) {
            throw new KvxException("the peer at " + peerControl + " said it is '" + answer.name() + "' but its metadata is agent '" + peer + "'");
        }
        return peer;
    }

    /** The address this side's control channel listens on ({@link Builder#listen}), or null if it has none. */
    public java.net.InetSocketAddress controlAddress() {
        var c = controlServer;
        return c == null ? null : c.address();
    }

    void attachControlServer(dev.kvx.transceiver.internal.control.ControlServer server) {
        this.controlServer = server;
    }

    void attachStore(MetadataStore s) {
        this.store = s;
    }

    /**
     * Connects to a peer by its agent name, through the metadata store ({@link Builder#etcd}): reads the
     * peer's NIXL metadata from etcd (with a deadline), then runs the authenticated handshake. The peer
     * looks this side up the same way to answer. A peer that restarted under the same name (other connection
     * info in etcd) is picked up again: its old incarnation counts as lost (its requests end FAILED).
     *
     * @return the peer's agent name
     * @throws KvxException if etcd has no metadata under that name, does not answer in time, or the handshake fails
     * @throws IllegalStateException if this transceiver has no metadata store
     */
    public String connectByName(String peer, Duration timeout) {
        Objects.requireNonNull(peer, "peer");
        MetadataStore s = store;
        if (s == null) {
            throw new IllegalStateException("transceiver " + name + " has no metadata store: build it with etcd(endpoints, namespace)");
        }
        requireRunning();
        byte[] md = s.fetch(peer, timeout).orElseThrow(() -> new KvxException("no metadata of '" + peer + "' in etcd (" + s
                + "): is it running, with the same etcd namespace?"));
        checkMetadata(md);
        requireRunning();
        CompletableFuture<String> f = engine.connect(md, peer); // a restarted peer's old incarnation is dropped first
        wake();
        String got = await(f, timeout, "connecting");
        if (!got.equals(peer)) {
            throw new KvxException("etcd's metadata under '" + peer + "' is agent '" + got + "'");
        }
        return got;
    }

    /** Whether a live session with that peer exists. */
    public boolean isConnected(String peer) {
        return engine.isConnected(peer);
    }

    /**
     * Waits until a session with {@code peer} is live (the accepting side's session starts when the
     * connecting side's confirmation arrives, a moment after the connecting side's {@code connect} returned).
     *
     * @throws KvxException if it is not live within the timeout
     */
    public void awaitConnected(String peer, Duration timeout) {
        long deadline = System.nanoTime() + CacheTransceiverConfig.nanos(timeout);
        while (!engine.isConnected(peer)) {
            if (System.nanoTime() - deadline >= 0) {
                throw new KvxException("no session with peer '" + peer + "' within " + timeout);
            }
            if (runner == null) {
                tryPoll();
            }
            LockSupport.parkNanos(100_000);
        }
    }

    // ---------------------------------------------------------------- requests

    /**
     * Creates a request with {@code blockCount} KV blocks from the pool.
     *
     * @throws KvxException if the pool has too few free blocks (it says how many are free and quarantined)
     */
    public LlmRequest createRequest(long requestId, int blockCount) {
        int[] blocks = pool.allocate(blockCount).orElseThrow(() -> new KvxException("KV pool of " + name + " has "
                + pool.freeBlocks() + " free block(s) (" + pool.quarantinedBlocks() + " quarantined), request " + requestId
                + " needs " + blockCount));
        return new LlmRequest(requestId, pool, blocks, this::wake);
    }

    /** Copies bytes into a request's block (the model's KV, on the context side); host or device memory. */
    public void writeBlock(LlmRequest request, int index, byte[] data) {
        if (data.length > pool.layout().blockBytes()) {
            throw new IllegalArgumentException(data.length + " B do not fit a block of " + pool.layout().blockBytes() + " B");
        }
        pool.region().copyFromHost(pool.offset(blockOf(request, index)), data);
    }

    /** Copies a request's block out (what arrived, on the generation side); host or device memory. */
    public byte[] readBlock(LlmRequest request, int index) {
        byte[] out = new byte[(int) pool.layout().blockBytes()];
        pool.region().copyToHost(pool.offset(blockOf(request, index)), out);
        return out;
    }

    private static int blockOf(LlmRequest request, int index) {
        int[] ids = request.blockIds();
        if (index < 0 || index >= ids.length) {
            throw new IndexOutOfBoundsException("block " + index + " of a request with " + ids.length + " block(s)");
        }
        return ids[index];
    }

    /** Context side: send the request's blocks to {@code peer}. */
    public TransferFuture send(LlmRequest request, String peer) {
        return submit(request, peer, true);
    }

    /** Generation side: receive the request's blocks from {@code peer}. */
    public TransferFuture receive(LlmRequest request, String peer) {
        return submit(request, peer, false);
    }

    private TransferFuture submit(LlmRequest request, String peer, boolean contextSide) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(peer, "peer");
        if (request.record().pool() != pool) {
            throw new IllegalArgumentException(request + " was created by another transceiver's pool");
        }
        synchronized (lifecycleLock) {
            if (lifecycle != Lifecycle.RUNNING) {
                throw lifecycle == Lifecycle.DRAINING
                        ? new IllegalStateException("transceiver " + name + " is draining: it takes no new requests")
                        : new AlreadyClosedException("transceiver " + name + " is closed");
            }
            if (!request.record().markSubmitted()) {
                throw new IllegalStateException(request + " was already submitted; a handle is submitted once "
                        + "(a retry is a new request from createRequest)");
            }
            request.record().retainForEngine();
            try {
                engine.submit(request.record(), peer, contextSide, engine.clock().nanoTime());
            } catch (Throwable t) {
                request.record().releaseFromEngine();
                throw t;
            }
        }
        wake();
        return request.outcome();
    }

    /**
     * Cancels a request in whatever phase it is, on this side; the peer is told. Returns false if the
     * request already had its outcome.
     */
    public boolean cancelRequest(LlmRequest request) {
        if (request.outcome().isDone()) {
            return false;
        }
        if (!request.record().requestCancel()) {
            return false;
        }
        wake();
        return true;
    }

    // ---------------------------------------------------------------- caller-driven mode

    /**
     * Caller-driven mode: runs one duty cycle of the engine on the calling thread — commands,
     * notifications, every request's progress, deadlines — and completes outcomes right here. One
     * thread at a time; a call from inside an outcome callback returns 0.
     *
     * @return the work done (0: nothing happened; a serving loop may back off)
     * @throws IllegalStateException if the transceiver runs its own engine thread, or another thread is polling
     */
    public int poll() {
        if (runner != null) {
            throw new IllegalStateException("transceiver " + name + " runs its own engine thread; poll() is for "
                    + "caller-driven mode (CacheTransceiver.Builder.callerDriven())");
        }
        Thread me = Thread.currentThread();
        if (!polling.compareAndSet(null, me)) {
            if (polling.get() == me) {
                return 0; // re-entered from a callback
            }
            throw new IllegalStateException("poll() of " + name + " is running on thread '" + polling.get().getName()
                    + "': one thread drives the engine at a time");
        }
        try {
            return pollHeld(me);
        } finally {
            polling.set(null);
        }
    }

    private int pollHeld(Thread me) {
        if (engine.isTerminated()) {
            return 0;
        }
        engine.port().confineTo(me);
        int work = engine.doWork();
        if (engine.isCloseRequested()) {
            engine.shutdown();
        }
        return work;
    }

    /** In caller-driven mode, runs a cycle if no other thread is polling. */
    private void tryPoll() {
        Thread me = Thread.currentThread();
        if (runner == null && polling.compareAndSet(null, me)) {
            try {
                pollHeld(me);
            } finally {
                polling.set(null);
            }
        }
    }

    private void wake() {
        if (runner != null) {
            runner.wake();
        }
    }

    private <T> T await(CompletableFuture<T> f, Duration timeout, String what) {
        long deadline = System.nanoTime() + CacheTransceiverConfig.nanos(timeout);
        wake();
        try {
            while (!f.isDone()) {
                if (System.nanoTime() - deadline >= 0) {
                    throw new KvxException(what + " took longer than " + timeout
                            + (runner == null ? " (caller-driven mode: is a thread calling poll()?)" : ""));
                }
                if (runner == null) {
                    tryPoll();
                }
                LockSupport.parkNanos(50_000);
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    throw new KvxException(what + " was interrupted");
                }
            }
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KvxException(what + " was interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof KvxException k ? new KvxException(k.getMessage(), k) : new KvxException(what + " failed: " + c, c);
        }
    }

    // ---------------------------------------------------------------- metrics, drain and close

    /** This transceiver's metrics. */
    public TransceiverMetrics metrics() {
        return metrics;
    }

    /**
     * Graceful shutdown for rolling restarts: takes no new requests (a later {@code send} or
     * {@code receive} fails at once), lets those in flight finish, each within its own deadline, and waits
     * for peers to prove abandoned transfers over (so no block is left quarantined), up to {@code timeout};
     * then {@link #close() closes}, which ends whatever is still live CANCELLED. Take the worker out of
     * the router first, then drain (e.g. from a shutdown hook on SIGTERM), then exit:
     * {@snippet class=dev.kvx.snippets.ApiSnippets region=drain}
     * Idempotent and safe from any thread, concurrently with {@code close()} and from inside an outcome
     * callback; in caller-driven mode it drives the engine itself while it waits.
     *
     * @param timeout how long to wait for the live requests and the peers' proofs
     * @return true if everything finished and nothing was held when it closed
     */
    public boolean drain(Duration timeout) {
        synchronized (lifecycleLock) {
            if (lifecycle == Lifecycle.RUNNING) {
                lifecycle = Lifecycle.DRAINING;
            }
        }
        long deadline = System.nanoTime() + CacheTransceiverConfig.nanos(timeout);
        boolean clean = false;
        long quietUntilTick = -1; // quiescence seen from here is believed only after two more engine ticks
        Thread me = Thread.currentThread();
        boolean insideTick = (runner != null && me == runner.thread()) || polling.get() == me; // no tick can pass
        while (!engine.isTerminated() && System.nanoTime() - deadline < 0) {
            long ticks = engine.counters().ticks.get(); // read first: the gauges below are at least as new
            if (!engine.isQuiescent()) {
                quietUntilTick = -1;
            } else if (insideTick) {
                clean = true;
                break;
            } else if (quietUntilTick < 0) {
                // The engine takes commands in at the start of a tick and publishes its live count at the end
                // (after counting the tick): in between, a submitted request is in neither. Two ticks later, the
                // tick that may have been in that gap has published.
                quietUntilTick = ticks + 2;
            } else if (ticks >= quietUntilTick) {
                clean = true;
                break;
            }
            if (runner == null) {
                tryPoll();
            } else {
                runner.wake();
            }
            LockSupport.parkNanos(1_000_000);
        }
        if (!clean && engine.isTerminated()) {
            clean = engine.isQuiescent();
        }
        close();
        return clean;
    }

    /**
     * Closes at once: stops taking requests; every accepted one still queued or live ends CANCELLED (the
     * peer is told, so its side ends too instead of waiting for its deadline); the engine releases every
     * slot, transfer and block it held (blocks a peer's transfer may still touch stay quarantined in the
     * pool), then the NIXL agent. For a rolling restart prefer {@link #drain(Duration)}, which lets live
     * requests finish first; {@code close()} is the hard stop (and what {@code drain} ends with).
     * Idempotent and safe from any thread, concurrently, and from inside an outcome callback. Waits up to
     * the config's {@code closeTimeout} for the engine to end (not when called on the engine's own thread).
     */
    @Override
    public void close() {
        boolean first;
        synchronized (lifecycleLock) {
            first = lifecycle != Lifecycle.CLOSING;
            lifecycle = Lifecycle.CLOSING;
        }
        if (first) {
            var c = controlServer;
            if (c != null) {
                c.close();
            }
            var st = store;
            if (st != null) {
                st.close(); // stops checking the published key; the engine withdraws it at shutdown
            }
            engine.requestClose();
            if (runner != null) {
                runner.wake();
            } else {
                tryPoll(); // shuts the engine down here unless another thread is polling (it will then)
            }
        }
        Thread me = Thread.currentThread();
        if ((runner != null && me == runner.thread()) || polling.get() == me) {
            return; // the engine ends when this cycle returns; it cannot be awaited from inside
        }
        try {
            if (!engine.awaitTermination(CacheTransceiverConfig.nanos(config.closeTimeout()))) {
                LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": the engine did not end within " + config.closeTimeout()
                        + "; it releases everything itself when it does");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (ownedExecutor != null && engine.isTerminated()) {
            ownedExecutor.shutdown(); // outcomes already handed over run to the end; nothing waits for them
        }
    }

    /** Whether the engine has ended (after close). */
    public boolean isClosed() {
        return engine.isTerminated();
    }

    /** Runs an action on the engine's thread (tests use it to play a misbehaving peer). */
    void executeOnEngine(Runnable action) {
        engine.execute(action);
        wake();
    }

    TransceiverEngine engine() {
        return engine;
    }

    /** Test hook: sends a wire message to the peer in its session, from the engine thread. */
    void sendRawForTest(String peer, dev.kvx.transceiver.internal.wire.WireMessage m) {
        executeOnEngine(() -> engine.sendRawForTest(peer, m));
    }

    /**
     * Test hook: sends a wire message to the peer in its session, from the engine thread, and returns the
     * frame that went on the wire (what an eavesdropper would have captured).
     */
    byte[] captureForTest(String peer, dev.kvx.transceiver.internal.wire.WireMessage m) {
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        executeOnEngine(() -> {
            try {
                f.complete(engine.captureForTest(peer, m));
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return await(f, Duration.ofSeconds(10), "capturing a frame");
    }

    /** Test hook: sends raw bytes to the peer, outside any session, from the engine thread. */
    void sendRawBytesForTest(String peer, byte[] bytes) {
        executeOnEngine(() -> engine.sendRawBytesForTest(peer, bytes));
    }

    @Override
    public String toString() {
        return "CacheTransceiver[" + name + "]";
    }

    /**
     * Builds a {@link CacheTransceiver}, in the style of {@code HttpClient.Builder}. Only the name and the
     * pool are required; the secret comes from {@link SharedSecret#fromConfiguration()} unless set. A
     * server typically sets these:
     * {@snippet class=dev.kvx.snippets.ApiSnippets region=builder}
     */
    public static final class Builder {
        final String name;
        final KvBlockPool pool;
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults();
        SharedSecret secret;
        dev.kvx.nixl.AgentConfig agentConfig = dev.kvx.nixl.AgentConfig.defaults().withProgressThread(false);
        java.util.Map<String, String> ucxParams;
        java.util.concurrent.Executor executor;
        java.util.concurrent.ThreadFactory threadFactory;
        NanoClock clock = NanoClock.system();
        boolean callerDriven;
        java.net.InetSocketAddress listen;
        String etcdEndpoints;
        String etcdNamespace;
        int warmUpRequests;

        Builder(String name, KvBlockPool pool) {
            this.name = Objects.requireNonNull(name, "name");
            this.pool = Objects.requireNonNull(pool, "pool");
            if (name.isBlank() || name.length() > 256) {
                throw new IllegalArgumentException("transceiver name must be 1..256 characters, got '" + name + "'");
            }
        }

        /** The settings ({@link CacheTransceiverConfig#defaults()} if not set). */
        public Builder config(CacheTransceiverConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            return this;
        }

        /** The shared secret ({@link SharedSecret#fromConfiguration()} if not set; {@link SharedSecret#insecure()} to run without). */
        public Builder secret(SharedSecret secret) {
            this.secret = Objects.requireNonNull(secret, "secret");
            return this;
        }

        /**
         * The NIXL agent's settings. Default: {@link dev.kvx.nixl.AgentConfig#defaults()} with NIXL's progress
         * thread <b>off</b>: the engine drives UCX's progress itself on every cycle (it polls NIXL's
         * notifications), so no second thread competes for UCX's worker lock.
         */
        public Builder agentConfig(dev.kvx.nixl.AgentConfig agentConfig) {
            this.agentConfig = Objects.requireNonNull(agentConfig, "agentConfig");
            return this;
        }

        /** UCX backend parameters ({@link dev.kvx.nixl.NixlAgent#defaultUcxParams()} if not set). */
        public Builder ucxParams(java.util.Map<String, String> params) {
            this.ucxParams = java.util.Map.copyOf(params);
            return this;
        }

        /**
         * Where outcomes are completed (dependent stages run there). Default: a virtual thread per outcome
         * with the engine thread; inline on the polling thread in caller-driven mode. Never the engine thread.
         */
        public Builder callbackExecutor(java.util.concurrent.Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** Makes the engine thread (default: a platform daemon thread {@code kvx-engine-<name>}). */
        public Builder threadFactory(java.util.concurrent.ThreadFactory factory) {
            this.threadFactory = Objects.requireNonNull(factory, "factory");
            return this;
        }

        /** The engine's time source (tests use a fake one). */
        public Builder clock(NanoClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Runs the control channel on {@code address}, through which peers in other processes or on other
         * hosts connect ({@link CacheTransceiver#connect(java.net.InetSocketAddress, Duration)}) after
         * proving they hold the secret. Bind it to the interface peers use (port 0: any free port). Not
         * set: no listener (peers in this process connect with metadata bytes).
         */
        public Builder listen(java.net.InetSocketAddress address) {
            this.listen = Objects.requireNonNull(address, "address");
            return this;
        }

        /**
         * Finds peers through etcd (NIXL's central metadata store): the transceiver publishes its NIXL
         * metadata under {@code <namespace>/<name>/metadata}, keeps it there (publishes again if an etcd
         * restart lost it), withdraws it at drain and close, and connects to peers by name
         * ({@link CacheTransceiver#connectByName}). A peer's Hello is answered after its metadata was read from
         * etcd. etcd holds the pool's memory keys and NIXL's client speaks plaintext without auth: run it on
         * the serving nodes' private network only (README, "Across hosts"). Sessions still need the secret.
         *
         * @param endpoints {@code host:port}, comma-separated
         * @param namespace the key prefix shared by the deployment (e.g. {@code /kvx/prod})
         */
        public Builder etcd(String endpoints, String namespace) {
            this.etcdEndpoints = Objects.requireNonNull(endpoints, "endpoints");
            this.etcdNamespace = Objects.requireNonNull(namespace, "namespace");
            return this;
        }

        /**
         * No engine thread: the serving loop drives the engine by calling {@link CacheTransceiver#poll()}
         * (as vLLM's connector polls once per scheduler step). Outcomes complete on the polling thread.
         */
        public Builder callerDriven() {
            this.callerDriven = true;
            return this;
        }

        /**
         * Warms the JIT up before {@link #build()} returns: two throwaway transceivers in this process, built
         * like this one (engine thread or caller-driven, transfer mode, agent settings, UCX parameters) but with
         * their own small host pools, a fresh secret and no listener, move up to {@code requests} requests between
         * them over real NIXL and are closed. They stop early once the JIT is quiet (after 2,000 requests, at the
         * end of a batch of 500 in which it compiled for less than 5% of the time). A fresh JVM otherwise runs its
         * first thousands of requests through the interpreter and C1 code while the JIT compiles kvx's request
         * path, at about half the requests per second and with tens of milliseconds of p99 (BENCHMARKS.md, startup
         * rows). Measured: 8,000 to 10,000 requests and 1.5 to 4 s until the JIT is quiet. Best effort: a
         * warm-up that fails is logged and the build goes on. Default 0 (none); a server would pass 20,000.
         *
         * <p>{@snippet :
         * CacheTransceiver tx = CacheTransceiver.builder("decode-0", pool)
         *         .warmUp(20_000) // before the readiness probe says yes
         *         .build();
         * }
         *
         * @param requests the most requests to move, 0 for none (at most 1,000,000)
         */
        public Builder warmUp(int requests) {
            if (requests < 0 || requests > 1_000_000) {
                throw new IllegalArgumentException("warm-up requests must be 0..1000000, got " + requests);
            }
            this.warmUpRequests = requests;
            return this;
        }

        /**
         * Creates the NIXL agent and its UCX backend, registers the pool, and starts the engine.
         *
         * @throws dev.kvx.NativeLibraryException if NIXL is missing (saying what to install)
         * @throws IllegalArgumentException if no secret is set or configured
         */
        public CacheTransceiver build() {
            return TransceiverAssembly.build(this);
        }
    }
}
