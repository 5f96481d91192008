package dev.kvx.transceiver;

import dev.kvx.AlreadyClosedException;
import dev.kvx.KvxException;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.NixlException;
import dev.kvx.nixl.Notification;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Moves requests' KV blocks between a context (prefill) and a generation (decode) worker over NIXL,
 * with the reference transceiver's API and none of its failure modes.
 *
 * <p>One <b>progress engine</b> thread per transceiver owns every native transfer and every
 * request's transfer state: it polls NIXL transfers and notifications, enforces each request's
 * deadline and cancel flag on every tick (before any readiness test), returns buffer leases and blocks
 * at each request's terminal outcome, and completes the request's future. Callers never block it and it
 * never blocks; every request is handled inside its own try/catch, so one failing request can neither
 * stop the loop nor leave another future unresolved.
 *
 * <p>Protocol: the generation side sends {@link WireMessage.RequestInfo} (its block addresses) as a
 * NIXL notification; the context side WRITEs its blocks there with a {@link WireMessage.DataDone}
 * notification attached, which NIXL delivers after the data. Either side may send
 * {@link WireMessage.Abort}. When a WRITE is abandoned (deadline or cancel while in flight), both
 * sides quarantine the memory it touches until the context side has seen NIXL report the transfer
 * terminal and sent {@link WireMessage.Released}.
 */
public final class CacheTransceiver implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(CacheTransceiver.class.getName());
    /** How often the engine checks that the peers of in-flight requests are still reachable. */
    public static final Duration PEER_CHECK_INTERVAL = Duration.ofMillis(100);
    private static final byte[] PING = WireCodec.encode(new WireMessage.Ping());

    private final String name;
    private final CacheTransceiverConfig config;
    private final KvBlockPool pool;
    private final NixlAgent agent;
    private final Registration registration;
    private final BufferIndexPool sendSlots;
    private final BufferIndexPool recvSlots;
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private final ExecutorService callbacks;
    private final Thread engine;
    private volatile boolean running = true;
    private volatile String defaultPeer;
    private final Metrics metrics = new Metrics();
    // engine-confined state
    private final Map<Long, Op> active = new LinkedHashMap<>();
    // `active` in submission order as an intrusive list: a tick walks it without allocating
    private Op activeHead;
    private Op activeTail;
    private final ArrayList<String> peersToCheck = new ArrayList<>();
    private long lastPeerCheckNanos;
    private final Map<Long, WireMessage.RequestInfo> pendingInfos = new HashMap<>();
    private final Map<Long, Long> pendingInfoArrival = new HashMap<>();
    private final Map<Long, Long> sendsEndedRecently = new HashMap<>(); // id -> when; answers late request info
    private final List<Abandoned> abandoned = new ArrayList<>();
    private final Map<String, Quarantine> quarantines = new HashMap<>();
    private final Set<String> malformedSenders = new HashSet<>();
    /** Each peer's agent metadata, kept to reconnect it after a disconnect made for safety. */
    private final Map<String, byte[]> peerMetadata = new ConcurrentHashMap<>();
    // reference-face bookkeeping (any thread)
    private final List<LlmRequest> ctxTracked = new ArrayList<>();
    private final List<LlmRequest> genTracked = new ArrayList<>();

    private CacheTransceiver(String name, CacheTransceiverConfig config, KvBlockPool pool, AgentConfig agentConfig) {
        this.name = name;
        this.config = config;
        this.pool = pool;
        this.agent = NixlAgent.create(name, agentConfig);
        try {
            agent.createBackend(config.backend(), NixlAgent.defaultUcxParams());
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
        try {
            this.registration = agent.register(pool.region());
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
        this.sendSlots = new BufferIndexPool(config.sendBufferCount());
        this.recvSlots = new BufferIndexPool(config.recvBufferCount());
        this.callbacks = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kvx-callbacks-" + name);
            t.setDaemon(true);
            return t;
        });
        this.engine = new Thread(this::runEngine, "kvx-engine-" + name);
        this.engine.setDaemon(true);
        this.engine.start();
    }

    /**
     * Creates a transceiver with its own NIXL agent (UCX) and registers the pool's region with it.
     *
     * @param name the agent name; unique among connected transceivers
     */
    public static CacheTransceiver create(String name, CacheTransceiverConfig config, KvBlockPool pool) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(pool, "pool");
        return new CacheTransceiver(name, config, pool, AgentConfig.defaults());
    }

    /**
     * Creates a transceiver whose agent also runs NIXL's metadata listener on {@code listenPort}, for
     * peers in other processes ({@link #connectOverSocket}).
     */
    public static CacheTransceiver createListening(String name, CacheTransceiverConfig config, KvBlockPool pool, int listenPort) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(pool, "pool");
        return new CacheTransceiver(name, config, pool, AgentConfig.defaults().withListener(listenPort));
    }

    /**
     * Connects to a peer in another process through NIXL's socket exchange: sends this side's
     * metadata to the peer's listener and fetches the peer's (both sides need listeners).
     *
     * @param peerName the peer transceiver's name
     * @return the peer's name
     * @throws KvxException if the peer's metadata did not arrive within {@code timeout}
     */
    public String connectOverSocket(String peerName, String ip, int port, Duration timeout) throws InterruptedException {
        agent.sendLocalMetadata(ip, port);
        agent.fetchRemoteMetadata(ip, port);
        if (!agent.awaitRemote(peerName, timeout)) {
            throw new KvxException("metadata of peer '" + peerName + "' did not arrive from " + ip + ":" + port + " within "
                    + timeout + " (is the peer running with a listener on that port?)");
        }
        // NIXL's socket exchange does not hand the metadata to us: swap copies over the new connection,
        // so either side can reconnect the other after disconnecting it (see reconnect).
        byte[] local = agent.localMetadata();
        commands.add(() -> sendQuietly(peerName, new WireMessage.PeerMetadata(local, true)));
        LockSupport.unpark(engine);
        if (defaultPeer == null) {
            defaultPeer = peerName;
        }
        return peerName;
    }

    /** Whether this side holds the peer's metadata (the peer connected to us, or we to it). */
    public boolean knowsPeer(String peerName) {
        return agent.hasRemote(peerName);
    }

    /** This side's agent name. */
    public String name() {
        return name;
    }

    /** The KV block pool. */
    public KvBlockPool pool() {
        return pool;
    }

    /** Metadata for the peer to load with {@link #connect(byte[])} (in-process or sent over any channel). */
    public byte[] localMetadata() {
        return agent.localMetadata();
    }

    /**
     * Loads the peer's metadata; the first peer connected becomes the default of the reference-style
     * methods.
     *
     * @return the peer's name
     */
    public String connect(byte[] peerMetadata) {
        String peer = agent.loadRemoteMetadata(peerMetadata);
        this.peerMetadata.put(peer, peerMetadata.clone());
        if (defaultPeer == null) {
            defaultPeer = peer;
        }
        return peer;
    }

    // ------------------------------------------------------------------ requests

    /**
     * Creates a request with {@code blockCount} KV blocks from the pool.
     *
     * @throws KvxException if the pool has too few free blocks (it says how many are free)
     */
    public LlmRequest createRequest(long requestId, int blockCount) {
        int[] blocks = pool.allocate(blockCount).orElseThrow(() -> new KvxException("KV pool of " + name + " has "
                + pool.freeBlocks() + " free block(s), request " + requestId + " needs " + blockCount));
        return new LlmRequest(requestId, pool, blocks, 1);
    }

    /** Copies bytes into a request's block (the model's KV, on the context side); host or device memory. */
    public void writeBlock(LlmRequest request, int index, byte[] data) {
        if (data.length > pool.layout().blockBytes()) {
            throw new IllegalArgumentException(data.length + " B do not fit a block of " + pool.layout().blockBytes() + " B");
        }
        pool.region().copyFromHost(pool.offset(request.blockIds()[index]), data);
    }

    /** Copies a request's block out (what arrived, on the generation side); host or device memory. */
    public byte[] readBlock(LlmRequest request, int index) {
        byte[] out = new byte[(int) pool.layout().blockBytes()];
        pool.region().copyToHost(pool.offset(request.blockIds()[index]), out);
        return out;
    }

    /** Context side, Java face: send the request's blocks to {@code peer} when it asks for them. */
    public CompletionStage<TransferOutcome> send(LlmRequest request, String peer) {
        return submit(request, peer, true);
    }

    /** Generation side, Java face: ask {@code peer} for the request's blocks and receive them. */
    public CompletionStage<TransferOutcome> receive(LlmRequest request, String peer) {
        return submit(request, peer, false);
    }

    /** Reference face: {@code respondAndSendAsync} to the default peer. */
    public void respondAndSendAsync(LlmRequest request) {
        send(request, requirePeer());
        synchronized (ctxTracked) {
            ctxTracked.add(request);
        }
    }

    /** Reference face: {@code requestAndReceiveAsync} from the default peer. */
    public void requestAndReceiveAsync(LlmRequest request) {
        receive(request, requirePeer());
        synchronized (genTracked) {
            genTracked.add(request);
        }
    }

    /**
     * Cancels a request in whatever phase it is, on this side; the peer is told. Returns false if the
     * request already had its outcome.
     */
    public boolean cancelRequest(LlmRequest request) {
        if (request.outcome().isDone()) {
            return false;
        }
        try {
            request.requestCancel();
        } catch (AlreadyClosedException e) {
            return false;
        }
        LockSupport.unpark(engine);
        return true;
    }

    private String requirePeer() {
        String p = defaultPeer;
        if (p == null) {
            throw new IllegalStateException("transceiver " + name + " has no peer: call connect(peerMetadata) first");
        }
        return p;
    }

    private CompletionStage<TransferOutcome> submit(LlmRequest request, String peer, boolean sending) {
        Objects.requireNonNull(peer, "peer");
        if (!running) {
            throw new AlreadyClosedException("transceiver " + name + " is closed");
        }
        request.retainForEngine();
        long now = System.nanoTime();
        long deadline = now + config.kvTransferTimeout().toNanos();
        request.started(now, deadline);
        request.update(RequestState.IN_TRANSFER, TransferPhase.SUBMITTED);
        metrics.submitted.incrementAndGet();
        commands.add(() -> {
            Op op = new Op(request, peer, sending, now, deadline);
            if (active.containsKey(request.id())) {
                // Fails only this submission: no Abort (it would end the live request's other half on
                // the peer) and nothing to quarantine (nothing started).
                finishWith(op, TransferOutcome.Status.FAILED, TransferPhase.SUBMITTED, "request id " + request.id()
                        + " is already in transfer on " + name + "; ids must be unique among live requests", 0, null, 0);
                return;
            }
            activate(op);
            setPhase(op, sending ? TransferPhase.WAITING_FOR_REQUEST_INFO : TransferPhase.WAITING_FOR_BUFFER);
        });
        LockSupport.unpark(engine);
        return request.outcome();
    }

    // ------------------------------------------------------------------ reference-style checks

    /** Ids reported by a check. */
    public record CheckResult(List<Long> completed, List<Long> failed) {}

    /**
     * Reference {@code checkContextTransferStatus(atLeast)}: waits until at least {@code atLeast}
     * tracked context requests have their outcome — never past the earliest pending deadline plus one
     * sender-future timeout — then reports and forgets every finished one. {@code atLeast = 0} never
     * waits.
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
        // Every pending request ends by its own deadline (the engine enforces it), so this wait is bounded.
        long bound = System.nanoTime() + config.kvTransferTimeout().toNanos() + config.kvTransferSenderFutureTimeout().toNanos();
        long pause = 10_000;
        while (snapshot.stream().filter(r -> r.outcome().isDone()).count() < want && System.nanoTime() - bound < 0) {
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
                TransferOutcome o = r.outcome().getNow(null);
                if (o != null) {
                    (o.isCompleted() ? completed : failed).add(r.id());
                    it.remove();
                }
            }
        }
        return new CheckResult(completed, failed);
    }

    // ------------------------------------------------------------------ the engine

    private final class Op {
        final LlmRequest request;
        final long id;
        final String peer;
        final boolean sending;
        final long startNanos;
        final long deadlineNanos;
        final int blockCount;
        int epoch;
        TransferPhase phase = TransferPhase.SUBMITTED;
        Op prevActive;
        Op nextActive;
        /** Time spent in each phase (by ordinal), for the JFR event. */
        final long[] phaseNanos = new long[TransferPhase.values().length];
        long phaseSinceNanos;
        BufferIndexPool.Lease lease;
        Transfer transfer;
        boolean transferTerminal;
        WireMessage.RequestInfo info;

        Op(LlmRequest request, String peer, boolean sending, long start, long deadline) {
            this.request = request;
            this.id = request.id();
            this.peer = peer;
            this.phaseSinceNanos = start;
            this.sending = sending;
            this.startNanos = start;
            this.deadlineNanos = deadline;
            this.blockCount = request.blockCount();
            this.epoch = request.epoch();
        }
    }

    private record Abandoned(Transfer transfer, int[] blocks, String peer, long requestId, int epoch, long sinceNanos) {}

    private record Quarantine(int[] blocks, long sinceNanos, String peer) {}

    private void runEngine() {
        long idlePause = 1_000;
        while (running) {
            boolean progressed = false;
            try {
                progressed |= drainCommands();
                progressed |= drainNotifications();
                progressed |= tickRequests();
                progressed |= tickAbandoned();
                progressed |= tickQuarantines();
                progressed |= expirePendingInfos();
                progressed |= checkPeersAlive();
            } catch (Throwable t) { // the loop itself must survive anything
                metrics.engineErrors.incrementAndGet();
                LOG.log(Level.WARNING, "kvx engine " + name + ": unexpected error outside request handling", t);
            }
            metrics.ticks.incrementAndGet();
            if (progressed) {
                idlePause = 1_000;
            } else {
                boolean busy = !active.isEmpty() || !abandoned.isEmpty();
                LockSupport.parkNanos(busy ? Math.min(idlePause, 50_000) : idlePause);
                idlePause = Math.min(idlePause * 2, 1_000_000);
            }
        }
        shutdownEngineState();
    }

    private boolean drainCommands() {
        boolean any = false;
        Runnable c;
        while ((c = commands.poll()) != null) {
            any = true;
            try {
                c.run();
            } catch (Throwable t) {
                metrics.engineErrors.incrementAndGet();
                LOG.log(Level.WARNING, "kvx engine " + name + ": command failed", t);
            }
        }
        return any;
    }

    private boolean drainNotifications() {
        List<Notification> got = agent.pollNotifications();
        if (got.isEmpty()) {
            return false; // no iterator for nothing: an idle tick allocates nothing
        }
        for (Notification n : got) {
            byte[] bytes = n.message();
            if (!WireCodec.looksLikeKvx(bytes)) {
                metrics.foreignMessages.incrementAndGet();
                continue;
            }
            WireMessage m;
            try {
                m = WireCodec.decode(bytes);
            } catch (MalformedMessageException e) {
                metrics.malformedMessages.incrementAndGet();
                if (malformedSenders.add(n.sender())) {
                    LOG.warning("kvx " + name + ": dropped a malformed message from " + n.sender() + ": " + e.getMessage()
                            + " (further ones from this sender are only counted)");
                }
                continue;
            }
            try {
                dispatch(n.sender(), m);
            } catch (Throwable t) {
                metrics.engineErrors.incrementAndGet();
                LOG.log(Level.WARNING, "kvx " + name + ": handling " + m + " from " + n.sender() + " failed", t);
            }
        }
        return !got.isEmpty();
    }

    private void dispatch(String sender, WireMessage m) {
        Op op = active.get(m.requestId());
        switch (m) {
            case WireMessage.RequestInfo info -> {
                if (op != null && op.sending && op.phase == TransferPhase.WAITING_FOR_REQUEST_INFO && op.peer.equals(sender)) {
                    op.info = info;
                    op.epoch = info.epoch();
                } else if (op == null && sendsEndedRecently.containsKey(info.requestId())) {
                    // F15: this side already gave up on the request; say so instead of letting the peer wait.
                    metrics.staleMessages.incrementAndGet();
                    sendQuietly(sender, new WireMessage.Abort(info.requestId(), info.epoch(), 2));
                    sendQuietly(sender, new WireMessage.Released(info.requestId(), info.epoch()));
                } else if (op == null) {
                    pendingInfos.put(info.requestId(), info); // the context side may not have submitted yet
                    pendingInfoArrival.put(info.requestId(), System.nanoTime());
                } else {
                    metrics.staleMessages.incrementAndGet();
                }
            }
            case WireMessage.DataDone done -> {
                Quarantine q = quarantines.remove(key(sender, done.requestId(), done.epoch()));
                if (q != null) { // the abandoned write finished: its memory is safe again
                    pool.endQuarantine(q.blocks());
                    return;
                }
                if (op != null && !op.sending && op.phase == TransferPhase.WAITING_FOR_DATA && op.epoch == done.epoch()
                        && op.peer.equals(sender)) {
                    finish(op, TransferOutcome.Status.COMPLETED, "blocks received", 0, null);
                } else {
                    metrics.staleMessages.incrementAndGet();
                }
            }
            case WireMessage.Abort abort -> {
                // A context op that has no request info yet does not know the epoch; any other op checks it.
                boolean epochMatches = (op != null && op.sending && op.info == null) || (op != null && op.epoch == abort.epoch());
                if (op != null && op.peer.equals(sender) && epochMatches) {
                    cancel(op, "cancelled by peer " + sender);
                } else {
                    pendingInfos.remove(abort.requestId());
                    metrics.staleMessages.incrementAndGet();
                    boolean stillWriting = abandoned.stream().anyMatch(a -> a.requestId() == abort.requestId()
                            && a.epoch() == abort.epoch() && a.peer().equals(sender));
                    if (op == null && !stillWriting) {
                        // Nothing of that attempt is in flight from this side: the peer may reuse its memory.
                        sendQuietly(sender, new WireMessage.Released(abort.requestId(), abort.epoch()));
                    }
                }
            }
            case WireMessage.Released rel -> {
                Quarantine q = quarantines.remove(key(sender, rel.requestId(), rel.epoch()));
                if (q != null) {
                    pool.endQuarantine(q.blocks());
                } else {
                    metrics.staleMessages.incrementAndGet();
                }
            }
            case WireMessage.Ping ping -> {
                // its arrival is all it says
            }
            case WireMessage.PeerMetadata md -> {
                peerMetadata.put(sender, md.metadata());
                if (md.wantsReply()) {
                    sendQuietly(sender, new WireMessage.PeerMetadata(agent.localMetadata(), false));
                }
            }
        }
    }

    private static String key(String peer, long id, int epoch) {
        return peer + '\u0000' + id + '\u0000' + epoch;
    }

    private boolean tickRequests() {
        if (active.isEmpty()) {
            return false;
        }
        boolean any = false;
        long now = System.nanoTime();
        // Walks the intrusive list, so a tick allocates nothing (the benchmark suite measures this).
        // Handling a request can finish (unlink) only that request, so the successor read first stays valid.
        Op next;
        for (Op op = activeHead; op != null; op = next) {
            next = op.nextActive;
            try {
                // Cancel and deadline come first, before any readiness test (F2): a request that never
                // becomes ready still ends on time.
                if (op.request.cancelRequested()) {
                    cancel(op, "cancelled by this side");
                    any = true;
                    continue;
                }
                if (now - op.deadlineNanos >= 0) {
                    timeout(op);
                    any = true;
                    continue;
                }
                config.faults().beforeStep(op.id, op.phase);
                any |= advance(op);
            } catch (NixlException e) {
                op.transferTerminal = true; // NIXL errors are sticky and terminal
                finish(op, TransferOutcome.Status.FAILED, e.getMessage(), e.rawStatus(), e);
                any = true;
            } catch (Throwable t) { // F5: one request's failure never stops the engine
                metrics.requestErrors.incrementAndGet();
                finish(op, TransferOutcome.Status.FAILED, "error in request handling: " + t, 0, t);
                any = true;
            }
        }
        return any;
    }

    private void activate(Op op) {
        active.put(op.id, op);
        op.prevActive = activeTail;
        if (activeTail == null) {
            activeHead = op;
        } else {
            activeTail.nextActive = op;
        }
        activeTail = op;
    }

    /** Unlinks the op if it is the active one for its id (a rejected duplicate never was). */
    private void deactivate(Op op) {
        if (!active.remove(op.id, op)) {
            return;
        }
        if (op.prevActive == null) {
            activeHead = op.nextActive;
        } else {
            op.prevActive.nextActive = op.nextActive;
        }
        if (op.nextActive == null) {
            activeTail = op.prevActive;
        } else {
            op.nextActive.prevActive = op.prevActive;
        }
        op.prevActive = null;
        op.nextActive = null;
    }

    private boolean advance(Op op) {
        switch (op.phase) {
            case WAITING_FOR_REQUEST_INFO -> {
                if (op.info == null) {
                    WireMessage.RequestInfo early = pendingInfos.remove(op.id);
                    pendingInfoArrival.remove(op.id);
                    if (early == null) {
                        return false;
                    }
                    op.info = early;
                    op.epoch = early.epoch();
                }
                int blocks = op.request.blockCount();
                if (op.info.blockAddresses().size() != blocks || op.info.blockBytes() != pool.layout().blockBytes()) {
                    sendQuietly(op.peer, new WireMessage.Abort(op.id, op.epoch, 3));
                    finish(op, TransferOutcome.Status.FAILED, "peer asked for " + op.info.blockAddresses().size() + " block(s) of "
                            + op.info.blockBytes() + " B, this side holds " + blocks + " of " + pool.layout().blockBytes() + " B", 0, null);
                    return true;
                }
                setPhase(op, TransferPhase.WAITING_FOR_BUFFER);
                return true;
            }
            case WAITING_FOR_BUFFER -> {
                BufferIndexPool.Lease lease = (op.sending ? sendSlots : recvSlots).tryAcquire(op.id);
                if (lease == null) {
                    return false;
                }
                op.lease = lease;
                op.request.setBufferIndex(lease.index());
                if (op.sending) {
                    if (config.faults().withholdWrite(op.id)) {
                        setPhase(op, TransferPhase.DATA_IN_FLIGHT); // a context peer that never writes
                        return true;
                    }
                    List<MemoryDescriptor> local = new ArrayList<>();
                    List<MemoryDescriptor> remote = new ArrayList<>();
                    int[] ids = op.request.blockIds();
                    MemoryKind remoteKind = op.info.vram() ? MemoryKind.VRAM : MemoryKind.DRAM;
                    for (int i = 0; i < ids.length; i++) {
                        local.add(pool.descriptor(ids[i]));
                        remote.add(new MemoryDescriptor(op.info.blockAddresses().get(i), op.info.blockBytes(), op.info.deviceId()));
                    }
                    byte[] note = WireCodec.encode(new WireMessage.DataDone(op.id, op.epoch));
                    op.transfer = agent.createTransfer(TransferOp.WRITE, pool.region().kind(), local, remoteKind, remote, op.peer, note);
                    setPhase(op, TransferPhase.DATA_IN_FLIGHT);
                    if (op.transfer.post() == TransferState.DONE) {
                        finish(op, TransferOutcome.Status.COMPLETED, "blocks written", 0, null);
                    }
                } else {
                    int[] ids = op.request.blockIds();
                    List<Long> addrs = new ArrayList<>(ids.length);
                    for (int id : ids) {
                        addrs.add(pool.descriptor(id).address());
                    }
                    send(op.peer, new WireMessage.RequestInfo(op.id, op.epoch, lease.index(), pool.layout().blockBytes(), addrs,
                            pool.region().deviceId(), pool.region().kind() == MemoryKind.VRAM));
                    setPhase(op, TransferPhase.WAITING_FOR_DATA);
                }
                return true;
            }
            case DATA_IN_FLIGHT -> {
                if (op.transfer == null) {
                    return false; // withheld by a fault
                }
                if (op.transfer.status() == TransferState.DONE) {
                    finish(op, TransferOutcome.Status.COMPLETED, "blocks written", 0, null);
                    return true;
                }
                return false;
            }
            default -> {
                return false; // WAITING_FOR_DATA advances on DataDone
            }
        }
    }

    private void setPhase(Op op, TransferPhase phase) {
        long now = System.nanoTime();
        op.phaseNanos[op.phase.ordinal()] += now - op.phaseSinceNanos;
        op.phaseSinceNanos = now;
        op.phase = phase;
        op.request.update(RequestState.IN_TRANSFER, phase);
    }

    private void timeout(Op op) {
        metrics.timedOut.incrementAndGet();
        end(op, TransferOutcome.Status.TIMED_OUT, "kvTransferTimeout of " + config.kvTransferTimeout().toMillis()
                + " ms passed in phase " + op.phase, 0, null);
    }

    private void cancel(Op op, String why) {
        end(op, TransferOutcome.Status.CANCELLED, why, 0, null);
    }

    /**
     * Ends a request without success (timeout, cancel, failure): tells the peer, and makes sure no
     * in-flight write can land in memory that goes back to the pool.
     */
    private void end(Op op, TransferOutcome.Status status, String why, int nativeCode, Throwable cause) {
        boolean byPeer = why.startsWith("cancelled by peer");
        if (!byPeer) {
            sendQuietly(op.peer, new WireMessage.Abort(op.id, op.epoch, status == TransferOutcome.Status.TIMED_OUT ? 1 : 2));
        }
        int quarantined = 0;
        if (op.sending && op.transfer != null && op.transferTerminal) {
            closeQuietly(op.transfer); // NIXL reported it over: nothing is in flight any more
            op.transfer = null;
            sendQuietly(op.peer, new WireMessage.Released(op.id, op.epoch));
        } else if (op.sending && op.transfer != null) {
            // NIXL cannot abort a WRITE: keep polling it; its source blocks stay out of circulation until it ends.
            int[] blocks = op.request.detachBlocks();
            pool.quarantine(blocks);
            quarantined = blocks.length;
            abandoned.add(new Abandoned(op.transfer, blocks, op.peer, op.id, op.epoch, System.nanoTime()));
            op.transfer = null;
        } else if (op.sending) {
            // Nothing was written: the receiver's memory is safe now.
            sendQuietly(op.peer, new WireMessage.Released(op.id, op.epoch));
        } else if (op.phase == TransferPhase.WAITING_FOR_DATA) {
            // The peer may be writing into these blocks right now: quarantine until it says Released.
            int[] blocks = op.request.detachBlocks();
            pool.quarantine(blocks);
            quarantined = blocks.length;
            quarantines.put(key(op.peer, op.id, op.epoch), new Quarantine(blocks, System.nanoTime(), op.peer));
        }
        finishWith(op, status, op.phase, why, nativeCode, cause, quarantined);
    }

    private void finish(Op op, TransferOutcome.Status status, String detail, int nativeCode, Throwable cause) {
        if (status != TransferOutcome.Status.COMPLETED) {
            end(op, status, detail, nativeCode, cause);
            return;
        }
        finishWith(op, status, TransferPhase.DONE, detail, nativeCode, cause, 0);
    }

    private void finishWith(Op op, TransferOutcome.Status status, TransferPhase phase, String detail, int nativeCode,
                            Throwable cause, int quarantined) {
        deactivate(op);
        if (op.sending && status != TransferOutcome.Status.COMPLETED) {
            sendsEndedRecently.put(op.id, System.nanoTime());
        }
        if (op.transfer != null) {
            closeQuietly(op.transfer);
            op.transfer = null;
        }
        int bufferIndex = -1;
        if (op.lease != null) {
            bufferIndex = op.lease.isReleased() ? -1 : op.lease.index();
            op.lease.close();
        }
        RequestState state = switch (status) {
            case COMPLETED -> RequestState.COMPLETED;
            case TIMED_OUT -> RequestState.TIMED_OUT;
            case CANCELLED -> RequestState.CANCELLED;
            case FAILED -> RequestState.FAILED;
        };
        op.request.update(state, phase);
        op.request.finished(bufferIndex, nativeCode);
        long endNanos = System.nanoTime(); // one clock reading for the latency and the last phase's time
        long latency = endNanos - op.startNanos;
        TransferOutcome outcome = new TransferOutcome(op.id, status, phase, detail, nativeCode, cause, latency, quarantined);
        metrics.count(status, latency, System.nanoTime() - op.deadlineNanos);
        if (status == TransferOutcome.Status.COMPLETED) {
            metrics.completedLatencyNanos.addAndGet(latency);
            metrics.completedBytes.addAndGet((long) Math.max(op.blockCount, 0) * pool.layout().blockBytes());
        }
        TransferEvent event = new TransferEvent();
        if (event.shouldCommit()) {
            event.requestId = op.id;
            event.side = op.sending ? "context" : "generation";
            event.peer = op.peer;
            event.bytes = (long) Math.max(op.blockCount, 0) * pool.layout().blockBytes();
            event.outcome = status.name();
            event.phase = phase.name();
            event.latency = latency;
            long[] spent = op.phaseNanos.clone();
            spent[op.phase.ordinal()] += endNanos - op.phaseSinceNanos;
            event.queued = spent[TransferPhase.SUBMITTED.ordinal()];
            event.waitingForRequestInfo = spent[TransferPhase.WAITING_FOR_REQUEST_INFO.ordinal()];
            event.waitingForBuffer = spent[TransferPhase.WAITING_FOR_BUFFER.ordinal()];
            event.dataInFlight = spent[TransferPhase.DATA_IN_FLIGHT.ordinal()];
            event.waitingForData = spent[TransferPhase.WAITING_FOR_DATA.ordinal()];
            event.quarantinedBlocks = quarantined;
            event.commit();
        }
        op.request.releaseFromEngine();
        CompletableFuture<TransferOutcome> f = op.request.outcome();
        callbacks.execute(() -> f.complete(outcome));
    }

    private boolean tickAbandoned() {
        if (abandoned.isEmpty()) {
            return false;
        }
        boolean any = false;
        for (Iterator<Abandoned> it = abandoned.iterator(); it.hasNext(); ) {
            Abandoned a = it.next();
            boolean terminal;
            try {
                terminal = a.transfer().status() == TransferState.DONE;
            } catch (RuntimeException e) {
                terminal = true; // an error is terminal too
            }
            if (!terminal && System.nanoTime() - a.sinceNanos() - config.quarantineTimeout().toNanos() >= 0) {
                // NIXL never finished it (a dead or stalled peer): disconnect the peer so nothing more can
                // move, then release the request and its source blocks.
                metrics.peersInvalidated.incrementAndGet();
                LOG.warning("kvx " + name + ": write of request " + a.requestId() + " to " + a.peer() + " still in flight after "
                        + config.quarantineTimeout() + "; disconnecting the peer");
                try {
                    agent.invalidateRemote(a.peer());
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "invalidate " + a.peer(), e);
                }
                closeQuietly(a.transfer());
                reconnect(a.peer());
                pool.endQuarantine(a.blocks());
                sendQuietly(a.peer(), new WireMessage.Released(a.requestId(), a.epoch()));
                it.remove();
                any = true;
                continue;
            }
            if (terminal) {
                closeQuietly(a.transfer());
                pool.endQuarantine(a.blocks());
                sendQuietly(a.peer(), new WireMessage.Released(a.requestId(), a.epoch()));
                it.remove();
                any = true;
            }
        }
        return any;
    }

    private boolean tickQuarantines() {
        if (quarantines.isEmpty()) {
            return false;
        }
        boolean any = false;
        long now = System.nanoTime();
        for (Iterator<Map.Entry<String, Quarantine>> it = quarantines.entrySet().iterator(); it.hasNext(); ) {
            Quarantine q = it.next().getValue();
            if (now - q.sinceNanos() - config.quarantineTimeout().toNanos() >= 0) {
                // The peer never confirmed: treat it as dead and disconnect it, so nothing it does can land here.
                metrics.peersInvalidated.incrementAndGet();
                LOG.warning("kvx " + name + ": peer " + q.peer() + " did not release quarantined blocks within "
                        + config.quarantineTimeout() + "; disconnecting it");
                try {
                    agent.invalidateRemote(q.peer());
                } catch (RuntimeException e) {
                    LOG.log(Level.FINE, "invalidate " + q.peer(), e);
                }
                reconnect(q.peer()); // before the blocks go back, so that a pool seen whole means a peer reachable again
                pool.endQuarantine(q.blocks());
                it.remove();
                any = true;
            }
        }
        return any;
    }

    /**
     * Every {@link #PEER_CHECK_INTERVAL}, sends a {@link WireMessage.Ping} to each peer that has requests
     * here in flight. A peer whose process died fails the send at once (UCX's peer error handling sees
     * the closed connection), and its requests end FAILED now, instead of TIMED_OUT at their deadline.
     * A live peer costs one small notification per interval; an idle engine sends nothing.
     */
    private boolean checkPeersAlive() {
        if (activeHead == null) {
            return false;
        }
        long now = System.nanoTime();
        if (now - lastPeerCheckNanos < PEER_CHECK_INTERVAL.toNanos()) {
            return false;
        }
        lastPeerCheckNanos = now;
        peersToCheck.clear();
        for (Op op = activeHead; op != null; op = op.nextActive) {
            if (!peersToCheck.contains(op.peer)) {
                peersToCheck.add(op.peer);
            }
        }
        boolean any = false;
        for (int i = 0; i < peersToCheck.size(); i++) {
            String peer = peersToCheck.get(i);
            try {
                agent.sendNotification(peer, PING);
            } catch (RuntimeException e) {
                failRequestsOf(peer, e);
                any = true;
            }
        }
        return any;
    }

    private void failRequestsOf(String peer, RuntimeException cause) {
        metrics.peersLost.incrementAndGet();
        int raw = cause instanceof NixlException ne ? ne.rawStatus() : 0;
        int n = 0;
        Op next;
        for (Op op = activeHead; op != null; op = next) {
            next = op.nextActive;
            if (op.peer.equals(peer)) {
                finish(op, TransferOutcome.Status.FAILED, "peer " + peer + " is unreachable (" + cause.getMessage() + ")", raw, cause);
                n++;
            }
        }
        LOG.warning("kvx " + name + ": peer " + peer + " is unreachable; its " + n + " request(s) here ended FAILED: " + cause.getMessage());
    }

    /**
     * Loads a disconnected peer's metadata again, from the copy it sent when it connected: the
     * disconnect closed the old connection and whatever was in flight on it, and a peer that is alive
     * (it only lost a notice) is served again on a fresh one. A peer that is dead fails its next
     * requests quickly instead. Without a copy the peer stays disconnected until connected again.
     */
    private void reconnect(String peer) {
        byte[] md = peerMetadata.get(peer);
        if (md == null) {
            LOG.warning("kvx " + name + ": no copy of " + peer + "'s metadata; it stays disconnected until connected again");
            return;
        }
        try {
            agent.loadRemoteMetadata(md);
            metrics.peersReconnected.incrementAndGet();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "kvx " + name + ": reconnecting " + peer + " failed; it stays disconnected", e);
        }
    }

    private boolean expirePendingInfos() {
        long now = System.nanoTime();
        if (!sendsEndedRecently.isEmpty()) {
            long keep = config.kvTransferTimeout().toNanos();
            for (Iterator<Long> it = sendsEndedRecently.values().iterator(); it.hasNext(); ) {
                if (now - it.next() - keep >= 0) {
                    it.remove();
                }
            }
        }
        if (pendingInfoArrival.isEmpty()) {
            return false;
        }
        boolean any = false;
        for (Iterator<Map.Entry<Long, Long>> it = pendingInfoArrival.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Long> e = it.next();
            if (now - e.getValue() - config.kvTransferTimeout().toNanos() >= 0) {
                pendingInfos.remove(e.getKey());
                it.remove();
                metrics.staleMessages.incrementAndGet();
                any = true;
            }
        }
        return any;
    }

    private void send(String peer, WireMessage m) {
        // connection set-up is not request handling: faults are injected into the request protocol only
        if (!(m instanceof WireMessage.ConnectionMessage) && config.faults().dropOutgoing(m)) {
            metrics.droppedByFault.incrementAndGet();
            return;
        }
        agent.sendNotification(peer, WireCodec.encode(m));
    }

    private void sendQuietly(String peer, WireMessage m) {
        try {
            send(peer, m);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "kvx " + name + ": could not send " + m + " to " + peer, e);
        }
    }

    private static void closeQuietly(Transfer t) {
        try {
            t.close();
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "release of " + t, e);
        }
    }

    private void shutdownEngineState() {
        for (Op op : List.copyOf(active.values())) {
            try {
                cancel(op, "cancelled: transceiver " + name + " closed");
            } catch (Throwable t) {
                finishWith(op, TransferOutcome.Status.FAILED, op.phase, "transceiver closed: " + t, 0, t, 0);
            }
        }
        for (Abandoned a : abandoned) {
            closeQuietly(a.transfer()); // the agent is about to be destroyed; nothing can be in flight after that
            pool.endQuarantine(a.blocks());
        }
        abandoned.clear();
        for (Quarantine q : quarantines.values()) {
            pool.endQuarantine(q.blocks()); // our agent (and its registration) goes away below
        }
        quarantines.clear();
    }

    /** Sends raw notification bytes from the engine thread (tests use it to play a broken peer). */
    void sendRawBytesForTest(String peer, byte[] bytes) {
        commands.add(() -> agent.sendNotification(peer, bytes));
        LockSupport.unpark(engine);
    }

    /** Sends a raw wire message from the engine thread (tests use it to play a misbehaving peer). */
    void sendRawForTest(String peer, WireMessage m) {
        commands.add(() -> send(peer, m));
        LockSupport.unpark(engine);
    }

    // ------------------------------------------------------------------ metrics and close

    /** Counters and gauges of one transceiver, safe to read from any thread. */
    public final class Metrics {
        final AtomicLong submitted = new AtomicLong();
        final AtomicLong completed = new AtomicLong();
        final AtomicLong timedOut = new AtomicLong();
        final AtomicLong cancelled = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong requestErrors = new AtomicLong();
        final AtomicLong engineErrors = new AtomicLong();
        final AtomicLong malformedMessages = new AtomicLong();
        final AtomicLong foreignMessages = new AtomicLong();
        final AtomicLong staleMessages = new AtomicLong();
        final AtomicLong droppedByFault = new AtomicLong();
        final AtomicLong peersInvalidated = new AtomicLong();
        final AtomicLong peersReconnected = new AtomicLong();
        final AtomicLong peersLost = new AtomicLong();
        final AtomicLong ticks = new AtomicLong();
        final AtomicLong maxLatenessNanos = new AtomicLong();
        final AtomicLong completedLatencyNanos = new AtomicLong();
        final AtomicLong completedBytes = new AtomicLong();

        void count(TransferOutcome.Status s, long latency, long lateness) {
            switch (s) {
                case COMPLETED -> completed.incrementAndGet();
                case TIMED_OUT -> {
                    maxLatenessNanos.accumulateAndGet(lateness, Math::max);
                }
                case CANCELLED -> cancelled.incrementAndGet();
                case FAILED -> failed.incrementAndGet();
            }
        }

        /** A consistent-enough snapshot for reports and assertions. */
        public Snapshot snapshot() {
            return new Snapshot(submitted.get(), completed.get(), timedOut.get(), cancelled.get(), failed.get(),
                    requestErrors.get(), engineErrors.get(), malformedMessages.get(), staleMessages.get(),
                    droppedByFault.get(), peersInvalidated.get(), peersReconnected.get(), peersLost.get(), sendSlots.inUse(), recvSlots.inUse(), pool.freeBlocks(),
                    pool.allocatedBlocks(), pool.quarantinedBlocks(), ticks.get(), maxLatenessNanos.get(),
                    completedLatencyNanos.get(), completedBytes.get());
        }
    }

    /**
     * Figures of one transceiver.
     *
     * @param submitted requests submitted
     * @param completed outcomes COMPLETED
     * @param timedOut outcomes TIMED_OUT
     * @param cancelled outcomes CANCELLED
     * @param failed outcomes FAILED
     * @param requestErrors exceptions caught inside one request's handling
     * @param engineErrors exceptions caught outside request handling
     * @param malformedMessages wire messages dropped as malformed
     * @param staleMessages messages of finished or unknown attempts, dropped
     * @param droppedByFault messages dropped by fault injection
     * @param peersInvalidated peers disconnected because they never released quarantined memory
     * @param peersReconnected disconnected peers connected again from their metadata copy
     * @param peersLost times a peer with requests in flight was found unreachable (its requests failed)
     * @param sendSlotsInUse send staging slots held now
     * @param recvSlotsInUse receive staging slots held now
     * @param freeBlocks free KV blocks now
     * @param allocatedBlocks KV blocks held by requests now
     * @param quarantinedBlocks KV blocks in quarantine now
     * @param ticks engine loop iterations
     * @param maxLatenessNanos largest time between a deadline and the TIMED_OUT outcome
     * @param completedLatencyNanos sum of the latencies (submission to outcome) of COMPLETED requests
     * @param completedBytes KV bytes of COMPLETED requests
     */
    public record Snapshot(long submitted, long completed, long timedOut, long cancelled, long failed, long requestErrors,
                           long engineErrors, long malformedMessages, long staleMessages, long droppedByFault,
                           long peersInvalidated, long peersReconnected, long peersLost, int sendSlotsInUse, int recvSlotsInUse, int freeBlocks, int allocatedBlocks,
                           int quarantinedBlocks, long ticks, long maxLatenessNanos, long completedLatencyNanos,
                           long completedBytes) {
        /** Outcomes delivered so far. */
        public long outcomes() {
            return completed + timedOut + cancelled + failed;
        }
    }

    /** This transceiver's metrics. */
    public Metrics metrics() {
        return metrics;
    }

    /**
     * Stops the engine (pending requests end CANCELLED), releases every transfer, slot and block it
     * held, then the agent. Idempotent.
     */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        LockSupport.unpark(engine);
        try {
            engine.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        callbacks.shutdown();
        try {
            callbacks.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        registration.close();
        agent.close();
    }

    @Override
    public String toString() {
        return "CacheTransceiver[" + name + "]";
    }
}
