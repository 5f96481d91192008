package dev.kvx.transceiver;

import static dev.kvx.transceiver.HostilePeerTest.await;
import static dev.kvx.transceiver.HostilePeerTest.outcome;
import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.TransceiverMetrics.Snapshot;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The second part of {@link HostilePeerTest}: what a flood, an oversized message, an oversized sender name
 * or metadata admitted for peers that never connect costs a victim — bounded memory, counted refusals,
 * nobody else's messages lost, legitimate requests completing meanwhile.
 */
class HostilePeerInputTest {
    static HostileProcess hostile;

    @BeforeAll
    static void startHostileProcess() throws Exception {
        hostile = new HostileProcess();
    }

    @AfterAll
    static void stopHostileProcess() throws Exception {
        if (hostile != null) {
            hostile.close();
        }
    }

    private static CacheTransceiverConfig config(TransceiverLimits limits, Duration handshakeTimeout) {
        CacheTransceiverConfig c = HostilePeerTest.config().withLimits(limits);
        return new CacheTransceiverConfig(c.backend(), c.kvTransferTimeout(), c.kvTransferSenderFutureTimeout(), c.sendBufferCount(),
                c.recvBufferCount(), c.quarantineTimeout(), c.transferMode(), c.limits(), c.peerCheckInterval(), handshakeTimeout,
                c.closeTimeout(), c.faults());
    }

    /** One request each way round (generation side first: its announcement waits at the context side). */
    private static void transfer(Victims v, long id, boolean genFirst, ConcurrentLinkedQueue<String> problems) throws Exception {
        LlmRequest c = v.ctxRequest(id, 2);
        LlmRequest g = v.gen.createRequest(id, 2);
        if (genFirst) {
            v.gen.receive(g, v.ctx.name());
            v.ctx.send(c, v.gen.name());
        } else {
            v.ctx.send(c, v.gen.name());
            v.gen.receive(g, v.ctx.name());
        }
        TransferOutcome og = outcome(g);
        TransferOutcome oc = outcome(c);
        if (!og.isCompleted() || !oc.isCompleted() || !v.arrivedIntact(g, id)) {
            problems.add("request " + id + ": gen " + og + ", ctx " + oc);
        }
        c.close();
        g.close();
    }

    @Test
    void aFloodOfAnnouncementsFromConnectedPeersIsHeldToTheCapsAndALegitimatePeersRequestsComplete() throws Exception {
        // caps small enough to reach: 64 announcements or 4 MiB per peer, 6 MiB in all
        TransceiverLimits limits = new TransceiverLimits(512 << 10, 64, 4L << 20, 1000, 6L << 20, 256, 64, 16 << 20);
        try (Victims v = new Victims(config(limits, Duration.ofSeconds(10)), false)) {
            String e1 = HostilePeerTest.alias();
            String e2 = HostilePeerTest.alias();
            for (String e : List.of(e1, e2)) {
                hostile.call("PEER " + e + " flooder-" + e + "-" + ProcessHandle.current().pid() + " " + v.secretFile + " 16");
                hostile.call("CONNECT " + e + " " + Victims.host(v.ctx));
            }
            // meanwhile the generation side's requests go on, half of them announced before the context side has them
            AtomicBoolean flooding = new AtomicBoolean(true);
            java.util.concurrent.atomic.AtomicInteger duringFlood = new java.util.concurrent.atomic.AtomicInteger();
            ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            CompletableFuture<Integer> legit = CompletableFuture.supplyAsync(() -> {
                int n = 0;
                try {
                    while (flooding.get() || n < 20) {
                        boolean during = flooding.get();
                        transfer(v, 5000 + n, n % 2 == 0, problems);
                        n++;
                        if (during && flooding.get()) {
                            duringFlood.incrementAndGet(); // began and ended while the flood went on
                        }
                    }
                } catch (Exception e) {
                    problems.add(e.toString());
                }
                return n;
            });
            int maxBlocks = WireCodec.MAX_BLOCKS;
            long big = WireCodec.encode(new WireMessage.Announce(1, 1, 0, false, new int[maxBlocks]), 1, 1, new MacKey(new byte[32])).length;
            long tiny = WireCodec.encode(new WireMessage.Announce(1, 1, 0, false, new int[1]), 1, 1, new MacKey(new byte[32])).length;
            long keptBig1 = limits.maxPendingAnnounceBytesPerPeer() / big;
            long keptTiny1 = limits.maxPendingAnnouncesPerPeer() - keptBig1;
            long keptBig2 = (limits.maxPendingAnnounceBytesTotal() - keptBig1 * big - keptTiny1 * tiny) / big;
            assertTrue(keptBig2 < keptBig1, "the second flooder must meet the total cap, not its own");
            long refused = 0;
            record Flood(String peer, int count, int blocks, long kept) {}
            long id = 1_000_000;
            for (Flood f : List.of(new Flood(e1, 60, maxBlocks, keptBig1), new Flood(e1, 300, 1, keptTiny1), new Flood(e2, 60, maxBlocks, keptBig2))) {
                hostile.call("FLOOD " + f.peer() + " " + v.ctx.name() + " " + f.count() + " " + f.blocks() + " " + id);
                id += 1_000_000;
                refused += f.count() - f.kept();
                long want = refused;
                assertTrue(eventually(() -> v.ctx.metrics().snapshot().refusedPendingCap() >= want), v::describe);
                assertEquals(want, v.ctx.metrics().snapshot().refusedPendingCap(), v::describe);
            }
            flooding.set(false);
            int done = legit.get(120, TimeUnit.SECONDS);
            assertTrue(problems.isEmpty(), () -> problems + "\n" + v.describe());
            assertTrue(duringFlood.get() > 0, "no legitimate request ran while the flood went on");
            Snapshot s = v.ctx.metrics().snapshot();
            long kept = keptBig1 + keptTiny1 + keptBig2;
            assertEquals(kept, s.pendingAnnounces(), v::describe); // the legitimate ones were all taken
            long heldBytes = (keptBig1 + keptBig2) * big + keptTiny1 * tiny;
            assertTrue(heldBytes <= limits.maxPendingAnnounceBytesTotal());
            assertEquals(done, s.completed(), v::describe);
            assertEquals(0, s.failed() + s.cancelled() + s.timedOut() + s.engineErrors() + s.requestErrors(), v::describe);
            System.out.printf("flood: %d announcements of %d B and %d of %d B from two peers; kept %d (%d B, caps %d B per peer, %d B in all),"
                    + " refused %d; %d legitimate requests completed (%d of them while it went on)%n", 120, big, 300, tiny, kept, heldBytes,
                    limits.maxPendingAnnounceBytesPerPeer(), limits.maxPendingAnnounceBytesTotal(), refused, done, duringFlood.get());
        }
    }

    private static long rss() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /**
     * Waits until NIXL holds a notification of {@code bytes} (this process's resident memory grew by that much
     * and settled): the caller-driven context side has not polled, so the notification waits in NIXL's list.
     */
    private static void awaitHeldByNixl(long rssBefore, long bytes) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        long last = -1;
        int stable = 0;
        while (System.nanoTime() < end && stable < 5) {
            long now = rss();
            stable = now - rssBefore >= bytes && Math.abs(now - last) < (8 << 20) ? stable + 1 : 0;
            last = now;
            Thread.sleep(100);
        }
        assertTrue(stable >= 5, "the big notification never arrived (RSS +" + ((last - rssBefore) >> 20) + " MiB)");
    }

    @Test
    void aNotificationOver200MiBIsDroppedUncopiedAndNothingElseInItsBatchIsLost() throws Exception {
        TransceiverLimits limits = TransceiverLimits.defaults();
        try (Victims v = new Victims(config(limits, Duration.ofSeconds(10)), true)) {
            String asGen = HostilePeerTest.spoofer(hostile, v.gen.name(), v.ctxMetadata);
            List<LlmRequest> gens = new ArrayList<>();
            long rss0 = rss();
            for (int i = 0; i < 16; i++) {
                if (i == 8) { // the big one arrives between the generation side's announcements
                    hostile.call("BIG " + asGen + " " + v.ctx.name() + " " + (200 << 20));
                    awaitHeldByNixl(rss0, 200L << 20);
                }
                LlmRequest g = v.gen.createRequest(700 + i, 2);
                v.gen.receive(g, v.ctx.name());
                await(g, TransferPhase.WAITING_FOR_DATA);
                gens.add(g);
            }
            long alloc0 = allocatedByThisThread();
            int work = v.ctx.poll(); // the first batch: the 8 announcements before the big one, it, and any after it
            long allocated = allocatedByThisThread() - alloc0;
            Snapshot s = v.ctx.metrics().snapshot();
            assertEquals(1, s.refusedOversize(), v::describe);
            assertTrue(s.pendingAnnounces() >= 8, () -> "an announcement of the big one's batch was lost: " + v.describe());
            assertTrue(work >= 9, "work " + work);
            assertTrue(allocated < (16 << 20), "the poll that dropped 200 MiB allocated " + allocated + " B on the heap");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (v.ctx.metrics().snapshot().pendingAnnounces() < 16 && System.nanoTime() < until) {
                v.ctx.poll();
                Thread.sleep(1);
            }
            assertEquals(16, v.ctx.metrics().snapshot().pendingAnnounces(), v::describe);
            List<LlmRequest> ctxs = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                LlmRequest c = v.ctxRequest(700 + i, 2);
                v.ctx.send(c, v.gen.name());
                ctxs.add(c);
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (ctxs.stream().anyMatch(c -> !c.outcome().isDone()) || gens.stream().anyMatch(g -> !g.outcome().isDone())) {
                assertTrue(System.nanoTime() < end, v::describe);
                v.ctx.poll();
                Thread.sleep(1);
            }
            for (int i = 0; i < 16; i++) {
                assertTrue(gens.get(i).outcome().get().isCompleted(), v::describe);
                assertTrue(ctxs.get(i).outcome().get().isCompleted(), v::describe);
                assertTrue(v.arrivedIntact(gens.get(i), 700 + i));
                gens.get(i).close();
                ctxs.get(i).close();
            }
            System.out.printf("oversized: a 200 MiB notification in a batch of 17 cost the polling thread %d KiB of heap%n", allocated >> 10);
        }
    }
    @Test
    void aSenderNameOf100MiBIsNotCopiedOntoTheHeapAndNothingElseInItsBatchIsLost() throws Exception {
        try (Victims v = new Victims(config(TransceiverLimits.defaults(), Duration.ofSeconds(10)), true)) {
            List<LlmRequest> gens = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                LlmRequest g = v.gen.createRequest(800 + i, 2);
                v.gen.receive(g, v.ctx.name());
                await(g, TransferPhase.WAITING_FOR_DATA);
                gens.add(g);
            }
            // NIXL puts the sender's name into every notification, and the name is the sender's to choose
            long rss0 = rss();
            String a = HostilePeerTest.alias();
            hostile.call("AGENT_LONG " + a + " " + (100 << 20));
            hostile.call("LOAD " + a + " " + v.ctxMetadata);
            hostile.call("SEND " + a + " " + v.ctx.name() + " " + HostilePeerTest.hex(HostilePeerTest.forged(new WireMessage.Ping(), 1, 1)));
            awaitHeldByNixl(rss0, 100L << 20);
            long alloc0 = allocatedByThisThread();
            v.ctx.poll(); // the first batch: the 8 announcements and the message from the 100 MiB name
            long allocated = allocatedByThisThread() - alloc0;
            Snapshot s = v.ctx.metrics().snapshot();
            assertTrue(allocated < (16 << 20), "the poll that took a message from a 100 MiB name allocated " + allocated + " B on the heap");
            assertEquals(1, s.refusedOversize(), v::describe);
            assertEquals(8, s.pendingAnnounces(), () -> "an announcement of the long name's batch was lost: " + v.describe());
            assertEquals(0, s.engineErrors(), v::describe);
            System.out.printf("long name: a message from a 100 MiB sender name in a batch of 9 cost the polling thread %d KiB of heap%n",
                    allocated >> 10);
            for (int i = 0; i < 8; i++) {
                LlmRequest c = v.ctxRequest(800 + i, 2);
                v.ctx.send(c, v.gen.name());
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!c.outcome().isDone() || !gens.get(i).outcome().isDone()) {
                    assertTrue(System.nanoTime() < end, v::describe);
                    v.ctx.poll();
                    Thread.sleep(1);
                }
                assertTrue(c.outcome().get().isCompleted() && gens.get(i).outcome().get().isCompleted(), v::describe);
                assertTrue(v.arrivedIntact(gens.get(i), 800 + i));
                c.close();
                gens.get(i).close();
            }
        }
    }
    /** Which of the names the victim's NIXL agent holds metadata of (asked on its engine thread). */
    private static long remotesHeld(CacheTransceiver tx, List<String> names) throws Exception {
        CompletableFuture<Long> held = new CompletableFuture<>();
        tx.executeOnEngine(() -> held.complete(names.stream().filter(n -> tx.engine().port().hasRemote(n)).count()));
        return held.get(10, TimeUnit.SECONDS);
    }

    @Test
    void metadataAdmittedForPeersThatNeverConnectIsCappedTheOldestCopiesGo() throws Exception {
        TransceiverLimits defaults = TransceiverLimits.defaults();
        TransceiverLimits limits = new TransceiverLimits(defaults.maxMessageBytes(), defaults.maxPendingAnnouncesPerPeer(),
                defaults.maxPendingAnnounceBytesPerPeer(), defaults.maxPendingAnnouncesTotal(), defaults.maxPendingAnnounceBytesTotal(),
                4, 4, defaults.maxMetadataBytes());
        try (Victims v = new Victims(config(limits, Duration.ofSeconds(10)), false)) {
            // a holder of the secret has 12 agents' metadata admitted (NIXL connects to each) and never connects them
            String prefix = "squatter-" + HostilePeerTest.alias();
            hostile.call("ADMIT " + Victims.host(v.ctx) + " " + v.secretFile + " 12 " + prefix);
            List<String> names = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                names.add(prefix + "-" + i);
            }
            long held = remotesHeld(v.ctx, names);
            assertTrue(held <= limits.maxPendingHandshakes(), "the victim holds the metadata of " + held + " agents that never connected");
            assertEquals(1, remotesHeld(v.ctx, names.subList(11, 12)), "the newest admission was evicted instead of the oldest");
            assertEquals(12 - held, v.ctx.metrics().snapshot().peersEvicted(), v::describe);
            assertTrue(v.ctx.isConnected(v.gen.name()), "a peer with a session lost it");
            HostilePeerControlTest.assertLegitimatePeerGetsIn(v);
        }
    }
}
