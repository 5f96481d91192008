package dev.kvx.cli.soak;

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
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One worker process of the soak run (context or generation), driven by the soak driver over
 * stdin/stdout. Commands: {@code CONNECT <peer> <port>}, {@code REQ <id> <blocks>}, {@code CANCEL <id>}, {@code QUIT}.
 * Output: {@code READY}, {@code CONNECTED}, {@code OUT <id> <status> <phase> <latencyNanos> <quarantined>},
 * {@code STAT k=v …} every 250 ms, {@code BYE}.
 * Args: {@code ctx|gen <name> <listenPort> <seed> <timeoutMs> <buffers> <poolBlocks> <tokensPerBlock> <layers>
 * <kvHeads> <headSize> <dtypeBytes> <faults>}.
 */
public final class SoakWorker {
    private static final ConcurrentHashMap<Long, LlmRequest> LIVE = new ConcurrentHashMap<>();

    private SoakWorker() {}

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
    public static void main(String[] args) throws Exception {
        boolean gen = args[0].equals("gen");
        String name = args[1];
        int port = Integer.parseInt(args[2]);
        long seed = Long.parseLong(args[3]);
        Duration timeout = Duration.ofMillis(Long.parseLong(args[4]));
        int buffers = Integer.parseInt(args[5]);
        int poolBlocks = Integer.parseInt(args[6]);
        KvCacheLayout layout = new KvCacheLayout(Integer.parseInt(args[7]), Integer.parseInt(args[8]), Integer.parseInt(args[9]),
                Integer.parseInt(args[10]), Integer.parseInt(args[11]));
        // The quarantine timeout equals the transfer timeout here, so that a late write (below) makes its
        // peer overdue, and is reported unhealthy, before it lands.
        SoakFaults faults = new SoakFaults(SoakFaults.parse(args[12]), seed, gen, timeout.plusMillis(500));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults().withKvTransferTimeout(timeout).withQuarantineTimeout(timeout)
                .withBufferCounts(buffers, buffers).withFaults(faults);
        try (KvBlockPool pool = KvBlockPool.inHostMemory(layout, poolBlocks, name + "-kv");
             CacheTransceiver tx = CacheTransceiver.builder(name, pool).config(config).secret(SharedSecret.fromConfiguration())
                     .listen(new InetSocketAddress("127.0.0.1", port)).build()) {
            ScheduledExecutorService stats = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "soak-stats");
                t.setDaemon(true);
                return t;
            });
            stats.scheduleAtFixedRate(() -> {
                TransceiverMetrics.Snapshot s = tx.metrics().snapshot();
                synchronized (out) {
                    out.println("STAT inflight=" + (s.submitted() - s.outcomes()) + " slots=" + (gen ? s.recvSlotsInUse() : s.sendSlotsInUse())
                            + " freeBlocks=" + s.freeBlocks() + " quarantined=" + s.quarantinedBlocks() + " capacity=" + pool.capacity()
                            + " requestErrors=" + s.requestErrors() + " engineErrors=" + s.engineErrors()
                            + " stale=" + s.staleMessages() + " malformed=" + s.malformedMessages()
                            + " unhealthyPeers=" + s.unhealthyPeers() + " refused=" + s.refused());
                }
            }, 0, 250, TimeUnit.MILLISECONDS);
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
                    case "REQ" -> submit(tx, gen, peer, Long.parseLong(f[1]), Integer.parseInt(f[2]), layout, out);
                    case "CANCEL" -> {
                        LlmRequest r = LIVE.get(Long.parseLong(f[1]));
                        if (r != null) {
                            tx.cancelRequest(r);
                        }
                    }
                    case "QUIT" -> {
                        stats.shutdownNow();
                        tx.close();
                        TransceiverMetrics.Snapshot s = tx.metrics().snapshot();
                        synchronized (out) {
                            out.println("BYE freeBlocks=" + pool.freeBlocks() + " capacity=" + pool.capacity()
                                    + " quarantined=" + pool.quarantinedBlocks() + " allocated=" + pool.allocatedBlocks()
                                    + " outcomes=" + s.outcomes() + " submitted=" + s.submitted()
                                    + " peersMarkedUnhealthy=" + s.peersMarkedUnhealthy() + " quarantinesProvenByRelease="
                                    + s.quarantinesProvenByRelease() + " quarantinesProvenByPeerLoss=" + s.quarantinesProvenByPeerLoss()
                                    + " refused=" + s.refused() + " handshakes=" + s.handshakes()
                                    + " peersLost=" + s.peersLost()
                                    + " requestErrors=" + s.requestErrors() + " engineErrors=" + s.engineErrors());
                        }
                        return;
                    }
                    default -> {
                        synchronized (out) {
                            out.println("ERR unknown command " + f[0]);
                        }
                    }
                }
            }
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
                System.err.println("soak worker: connecting to " + peer + " failed (" + e.getMessage() + "); retrying");
                Thread.sleep(200);
            }
        }
    }

    private static void submit(CacheTransceiver tx, boolean gen, String peer, long id, int blocks, KvCacheLayout layout, PrintStream out) {
        LlmRequest r;
        try {
            r = tx.createRequest(id, blocks);
        } catch (RuntimeException e) { // KV pool exhausted: the front end's admission problem, reported as such
            synchronized (out) {
                out.println("OUT " + id + " REJECTED SUBMITTED 0 0");
            }
            return;
        }
        LIVE.put(id, r);
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
                status = s + " " + o.phase() + " " + o.latencyNanos() + " " + o.quarantinedBlocks();
            }
            LIVE.remove(id);
            r.close();
            synchronized (out) {
                out.println("OUT " + id + " " + status);
            }
        });
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
