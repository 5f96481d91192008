package dev.kvx.cli.soak;

import dev.kvx.cli.Main;
import dev.kvx.cli.VersionProvider;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransceiverMetrics;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.TransferOutcome;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvx worker} (hidden): one worker process of the soak run (context or generation), started
 * and driven by {@link SoakDriver} (or {@link HostsSoakDriver}) over stdin/stdout. Commands:
 * {@code CONNECT <peer> <port>} (through the peer's control channel on loopback), {@code DIAL <peer>}
 * (by name through etcd, with {@code --etcd}), {@code AWAIT <peer>} (until the peer's session is up),
 * {@code REQ <id> <blocks> [<peer>]}, {@code CANCEL <id>}, {@code QUIT}. Output: {@code READY},
 * {@code CONNECTED <peer> <true|false>}, {@code OUT <id> <status> <phase> <latencyNanos> <quarantined> [why]}
 * (why a REJECTED one was: pool, unhealthy, notConnected, duplicate, other), {@code STAT k=v …} every 250 ms,
 * {@code BYE k=v …}. DIAL and AWAIT run beside the requests, which keep flowing. Logs (its own, NIXL's, UCX's) go to stderr, which the driver keeps in a file.
 */
@Command(name = "worker", hidden = true, mixinStandardHelpOptions = true, versionProvider = VersionProvider.class, sortOptions = false,
        description = "One soak worker, driven by 'kvx soak' over stdin/stdout (not for direct use).")
public final class SoakWorker implements Callable<Integer> {
    private static final System.Logger LOG = System.getLogger(SoakWorker.class.getName());
    private final ConcurrentHashMap<Long, LlmRequest> live = new ConcurrentHashMap<>();

    /** Which side of the transfer a worker plays. */
    enum Role { CTX, GEN }

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;
    @Option(names = "--role", required = true, paramLabel = "ctx|gen", description = "context (sends) or generation (receives)")
    Role role;
    @Option(names = "--name", required = true, description = "the NIXL agent name")
    String name;
    @Option(names = "--port", defaultValue = "-1", description = "the control channel's port on loopback (none with --etcd)")
    int port;
    @Option(names = "--etcd", paramLabel = "ENDPOINTS", description = "find peers by name through etcd (NIXL's metadata store) at these endpoints")
    String etcd;
    @Option(names = "--etcd-namespace", paramLabel = "PREFIX", defaultValue = "/kvx/soak", description = "the etcd key prefix (${DEFAULT-VALUE})")
    String etcdNamespace;
    @Option(names = "--seed", required = true, description = "the seed of the fault plan")
    long seed;
    @Option(names = "--timeout-ms", required = true, description = "kvTransferTimeout")
    long timeoutMs;
    @Option(names = "--buffers", required = true, description = "staging slots")
    int buffers;
    @Option(names = "--pool-blocks", required = true, description = "KV blocks in the pool")
    int poolBlocks;
    @Option(names = "--tokens-per-block", required = true)
    int tokensPerBlock;
    @Option(names = "--layers", required = true)
    int layers;
    @Option(names = "--kv-heads", required = true)
    int kvHeads;
    @Option(names = "--head-size", required = true)
    int headSize;
    @Option(names = "--dtype-bytes", required = true)
    int dtypeBytes;
    @Option(names = "--faults", defaultValue = "none", description = "kind=rate,... or none, as 'kvx soak --faults'")
    String faults;
    @Option(names = "--metadata-out", paramLabel = "FILE",
            description = "write this worker's NIXL metadata there (for 'kvx soak --hostile-peer', which hands it to the hostile peer as if it had leaked)")
    java.nio.file.Path metadataOut;
    @Option(names = "--wire-out", paramLabel = "FILE",
            description = "keep the frames this worker sends in that file (for 'kvx soak --hostile-peer', whose hostile peer replays them as if it had captured them)")
    java.nio.file.Path wireOut;

    /** Creates the command (picocli fills the options). */
    public SoakWorker() {}

    /**
     * The command line that starts a worker with these settings.
     *
     * @return the arguments after {@code kvx}
     */
    static List<String> arguments(Role role, String name, int port, SoakOptions o) {
        List<String> a = new java.util.ArrayList<>(List.of("worker", "--role=" + role.name().toLowerCase(java.util.Locale.ROOT), "--name=" + name, "--port=" + port,
                "--seed=" + o.seed, "--timeout-ms=" + o.timeoutMs, "--buffers=" + o.buffers, "--pool-blocks=" + o.effectivePoolBlocks(),
                "--tokens-per-block=" + o.tokensPerBlock, "--layers=" + o.layers, "--kv-heads=" + o.kvHeads, "--head-size=" + o.headSize,
                "--dtype-bytes=" + o.dtypeBytes, "--faults=" + SoakFaults.format(o.faults)));
        a.addAll(SoakHostile.workerArguments(role, o));
        return a;
    }

    /** The command line of a worker that finds its peers through etcd (no control channel). */
    static List<String> etcdArguments(Role role, String name, String endpoints, String namespace, SoakOptions o) {
        List<String> args = new java.util.ArrayList<>(arguments(role, name, -1, o));
        args.addAll(List.of("--etcd=" + endpoints, "--etcd-namespace=" + namespace));
        return args;
    }

    /** Block content both sides agree on: a cheap pattern from (request, block), checked on arrival. */
    static void fill(byte[] buf, long requestId, int block) {
        SplittableRandom r = new SplittableRandom(requestId * 1_000_003L + block);
        for (int i = 0; i < buf.length; i += 8) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i + k < buf.length; k++) {
                buf[i + k] = (byte) (v >>> (8 * k));
            }
        }
    }

    /** Runs the worker until QUIT or end of input. */
    @Override
    public Integer call() throws Exception {
        boolean gen = role == Role.GEN;
        Duration timeout = Duration.ofMillis(timeoutMs);
        KvCacheLayout layout;
        SoakFaults plan;
        try {
            layout = new KvCacheLayout(tokensPerBlock, layers, kvHeads, headSize, dtypeBytes);
            // A late write lands 2 x timeout + 0.5 s after the context side took the request: after the
            // generation side's deadline and past its quarantine timeout (= the transfer timeout here), so the
            // context side is reported unhealthy before its write lands in still-quarantined blocks.
            plan = new SoakFaults(SoakFaults.parse(faults), seed, gen, timeout.multipliedBy(2).plusMillis(500));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        LOG.log(System.Logger.Level.DEBUG, "worker {0} ({1}) on port {2}, {3} blocks of {4} B", name, role, port, poolBlocks, layout.blockBytes());
        WireTap tap = wireOut == null ? null : new WireTap(plan, name);
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults().withKvTransferTimeout(timeout).withQuarantineTimeout(timeout)
                .withBufferCounts(buffers, buffers).withFaults(tap == null ? plan : tap);
        if (etcd == null && port < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "a worker needs --port (its control channel) or --etcd");
        }
        try (KvBlockPool pool = poisonedIf(gen, KvBlockPool.inHostMemory(layout, poolBlocks, name + "-kv"));
             CacheTransceiver tx = build(pool, config)) {
            ScheduledExecutorService stats = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "soak-stats");
                t.setDaemon(true);
                return t;
            });
            stats.scheduleAtFixedRate(() -> {
                TransceiverMetrics.Snapshot s = tx.metrics().snapshot();
                synchronized (out) {
                    out.println("STAT inflight=" + (s.submitted() - s.outcomes()) + " slots=" + (gen ? s.recvSlotsInUse() : s.sendSlotsInUse()) + " slotCapacity=" + buffers
                            + " freeBlocks=" + s.freeBlocks() + " quarantined=" + s.quarantinedBlocks() + " capacity=" + pool.capacity()
                            + " requestErrors=" + s.requestErrors() + " engineErrors=" + s.engineErrors()
                            + " stale=" + s.staleMessages() + " malformed=" + s.malformedMessages()
                            + " unhealthyPeers=" + s.unhealthyPeers() + " refused=" + s.refused() + refusals(s));
                }
                writeTap(tap);
            }, 0, 250, TimeUnit.MILLISECONDS);
            if (metadataOut != null) { // written whole, then moved into place: a reader never sees half of it
                java.nio.file.Path tmp = metadataOut.resolveSibling(metadataOut.getFileName() + ".tmp");
                java.nio.file.Files.write(tmp, tx.localMetadata());
                java.nio.file.Files.move(tmp, metadataOut, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            synchronized (out) {
                out.println("READY " + name + " " + port + " blockBytes=" + layout.blockBytes());
            }
            String peer = null;
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.trim().split(" ");
                switch (f[0]) {
                    case "CONNECT" -> {
                        peer = f[1];
                        if (!gen) {
                            connectWithRetry(tx, peer, Integer.parseInt(f[2]));
                        } else {
                            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                            while (!tx.isConnected(peer) && System.nanoTime() < until) {
                                Thread.sleep(5);
                            }
                        }
                        synchronized (out) {
                            out.println("CONNECTED " + peer + " " + tx.isConnected(peer));
                        }
                    }
                    case "DIAL", "AWAIT" -> {
                        String to = f[1];
                        boolean dial = f[0].equals("DIAL");
                        Thread.ofVirtual().name("soak-" + f[0].toLowerCase(java.util.Locale.ROOT) + "-" + to).start(() -> {
                            boolean up = dial ? dialByName(tx, to) : awaitSession(tx, to);
                            synchronized (out) {
                                out.println("CONNECTED " + to + " " + up);
                            }
                        });
                    }
                    case "REQ" -> submit(tx, gen, f.length > 3 ? f[3] : peer, Long.parseLong(f[1]), Integer.parseInt(f[2]), layout, out);
                    case "CANCEL" -> {
                        LlmRequest r = live.get(Long.parseLong(f[1]));
                        if (r != null) {
                            tx.cancelRequest(r);
                        }
                    }
                    case "QUIT" -> {
                        stats.shutdownNow();
                        TransceiverMetrics.Snapshot before = tx.metrics().snapshot();
                        tx.close();
                        TransceiverMetrics.Snapshot s = tx.metrics().snapshot();
                        synchronized (out) {
                            out.println("BYE freeBlocks=" + pool.freeBlocks() + " capacity=" + pool.capacity()
                                    + " quarantined=" + pool.quarantinedBlocks() + " allocated=" + pool.allocatedBlocks()
                                    + " freeBlockWrites=" + pool.freeBlockWrites()
                                    + " outcomes=" + s.outcomes() + " submitted=" + s.submitted()
                                    + " peersMarkedUnhealthy=" + s.peersMarkedUnhealthy() + " quarantinesProvenByRelease="
                                    + s.quarantinesProvenByRelease() + " quarantinesProvenByPeerLoss=" + s.quarantinesProvenByPeerLoss()
                                    + " refused=" + s.refused() + " handshakes=" + s.handshakes()
                                    + " peersLost=" + s.peersLost() + " slots=" + (gen ? before.recvSlotsInUse() : before.sendSlotsInUse())
                                    + " requestErrors=" + s.requestErrors() + " engineErrors=" + s.engineErrors() + refusals(s));
                        }
                        return Main.OK;
                    }
                    default -> {
                        LOG.log(System.Logger.Level.WARNING, "unknown command from the driver: {0}", line);
                        synchronized (out) {
                            out.println("ERR unknown command " + f[0]);
                        }
                    }
                }
            }
        }
        LOG.log(System.Logger.Level.INFO, "worker {0}: the driver closed stdin without QUIT", name);
        return Main.FAILED;
    }

    /** What the engine refused or dropped, by counter, as {@code STAT}/{@code BYE} fields (the report's hostile-peer section). */
    private static String refusals(TransceiverMetrics.Snapshot s) {
        return " refusedAuth=" + s.refusedAuth() + " refusedUnknownSession=" + s.refusedUnknownSession() + " refusedReplay=" + s.refusedReplay()
                + " refusedOversize=" + s.refusedOversize() + " refusedPendingCap=" + s.refusedPendingCap() + " refusedPeerCap=" + s.refusedPeerCap()
                + " refusedHandshakes=" + s.refusedHandshakes() + " refusedControl=" + s.refusedControl() + " foreignMessages=" + s.foreignMessages()
                + " malformedMessages=" + s.malformedMessages() + " staleMessages=" + s.staleMessages() + " handshakes=" + s.handshakes()
                + " sessions=" + s.sessions() + " pendingAnnounces=" + s.pendingAnnounces();
    }

    private void writeTap(WireTap tap) {
        if (tap != null) {
            try {
                tap.writeTo(wireOut);
            } catch (java.io.IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "soak worker: cannot write the captured frames to " + wireOut + ": " + e);
            }
        }
    }

    /**
     * The generation side's pool is the target of every WRITE: its free blocks are poisoned and checked when
     * handed out, so a write that lands in a free (reused) block is caught even if no request reads it.
     */
    private static KvBlockPool poisonedIf(boolean gen, KvBlockPool pool) {
        return gen ? pool.poisonFreeBlocks() : pool;
    }

    private CacheTransceiver build(KvBlockPool pool, CacheTransceiverConfig config) {
        CacheTransceiver.Builder b = CacheTransceiver.builder(name, pool).config(config).secret(SharedSecret.fromConfiguration());
        if (etcd != null) {
            b.etcd(etcd, etcdNamespace);
        }
        if (port >= 0) {
            b.listen(new InetSocketAddress("127.0.0.1", port));
        }
        return b.build();
    }

    /** Connects to a peer by name through etcd; one that is not published yet (just restarting) is tried again for 30 s. */
    private static boolean dialByName(CacheTransceiver tx, String peer) {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                tx.connectByName(peer, Duration.ofSeconds(10));
                return true;
            } catch (RuntimeException e) { // not in etcd yet, etcd restarting, the handshake timed out
                if (System.nanoTime() > until || tx.isClosed()) {
                    LOG.log(System.Logger.Level.WARNING, "soak worker: no session with " + peer + " within 30 s: " + e.getMessage());
                    return false;
                }
                LOG.log(System.Logger.Level.INFO, "soak worker: connecting to " + peer + " by name failed (" + e.getMessage() + "); retrying");
                try {
                    Thread.sleep(200);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
    }

    /** Waits (30 s) until the peer's session is up here (the peer dials). */
    private static boolean awaitSession(CacheTransceiver tx, String peer) {
        try {
            tx.awaitConnected(peer, Duration.ofSeconds(30));
            return true;
        } catch (dev.kvx.KvxException e) {
            LOG.log(System.Logger.Level.WARNING, "soak worker: " + e.getMessage());
            return false;
        }
    }

    /** Connects through the peer's control channel; a peer that just restarted may need a moment. */
    private static void connectWithRetry(CacheTransceiver tx, String peer, int port) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                String got = tx.connect(new InetSocketAddress("127.0.0.1", port), Duration.ofSeconds(10));
                if (!got.equals(peer)) {
                    throw new IllegalStateException("connected to " + got + ", expected " + peer);
                }
                return;
            } catch (dev.kvx.KvxException e) {
                if (System.nanoTime() > until) {
                    throw e;
                }
                LOG.log(System.Logger.Level.WARNING, "soak worker: connecting to " + peer + " failed (" + e.getMessage() + "); retrying");
                Thread.sleep(200);
            }
        }
    }

    private void submit(CacheTransceiver tx, boolean gen, String peer, long id, int blocks, KvCacheLayout layout, PrintWriter out) {
        LlmRequest r;
        try {
            r = tx.createRequest(id, blocks);
        } catch (RuntimeException e) { // KV pool exhausted: the front end's admission problem, reported as such
            synchronized (out) {
                out.println("OUT " + id + " REJECTED SUBMITTED 0 0 pool");
            }
            return;
        }
        live.put(id, r);
        byte[] buf = new byte[(int) layout.blockBytes()];
        if (!gen) {
            for (int b = 0; b < blocks; b++) {
                fill(buf, id, b);
                tx.writeBlock(r, b, buf);
            }
        }
        (gen ? tx.receive(r, peer) : tx.send(r, peer)).whenComplete((o, t) -> {
            String status;
            if (o == null) {
                status = "FAILED SUBMITTED 0 0";
            } else {
                String s = o.status().name();
                if (gen && o.status() == TransferOutcome.Status.COMPLETED && !verify(tx, r, id, blocks, layout)) {
                    s = "CORRUPT";
                }
                String why = "";
                if (o.status() == TransferOutcome.Status.FAILED && o.phase() == dev.kvx.transceiver.TransferPhase.SUBMITTED) {
                    s = "REJECTED"; // refused at submission (e.g. the peer is unhealthy): the front end's admission sees it
                    why = " " + rejection(o.detail());
                }
                status = s + " " + o.phase() + " " + o.latencyNanos() + " " + o.quarantinedBlocks() + why;
            }
            live.remove(id);
            r.close();
            synchronized (out) {
                out.println("OUT " + id + " " + status);
            }
        });
    }

    /** Why a submission was refused, in one word (the report tells admission from damage by it). */
    private static String rejection(String detail) {
        String d = detail == null ? "" : detail;
        return d.contains("unhealthy") ? "unhealthy" : d.contains("not connected") ? "notConnected"
                : d.contains("already in transfer") ? "duplicate" : "other";
    }

    private static boolean verify(CacheTransceiver tx, LlmRequest r, long id, int blocks, KvCacheLayout layout) {
        byte[] want = new byte[(int) layout.blockBytes()];
        for (int b = 0; b < blocks; b++) {
            fill(want, id, b);
            if (!Arrays.equals(want, tx.readBlock(r, b))) {
                return false;
            }
        }
        return true;
    }
}
