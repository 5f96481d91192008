package dev.kvx.cli.soak;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.cli.ChildJvm;
import dev.kvx.cli.Main;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.LlmRequest;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.TransceiverMetrics;
import dev.kvx.transceiver.TransferOutcome;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kvx hostile} in a process of its own against two transceivers in this JVM that keep moving
 * verified data: it reaches them (their metadata handed over as if leaked), everything it sends is
 * refused and counted, and the victims' requests all complete.
 */
class HostilePeerCommandTest {
    private static final KvCacheLayout LAYOUT = new KvCacheLayout(4, 2, 2, 64, 2);

    private static byte[] content(long id, int block) {
        byte[] b = new byte[(int) LAYOUT.blockBytes()];
        Arrays.fill(b, (byte) (id * 31 + block));
        return b;
    }

    @Test
    void aHostilePeerProcessIsRefusedEverywhereAndTheVictimsKeepServing(@TempDir Path dir) throws Exception {
        SharedSecret secret = SharedSecret.generate();
        CacheTransceiverConfig config = CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofSeconds(30));
        InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", 0);
        String tag = "-" + ProcessHandle.current().pid();
        try (KvBlockPool cp = KvBlockPool.inHostMemory(LAYOUT, 64, "ctx");
             KvBlockPool gp = KvBlockPool.inHostMemory(LAYOUT, 64, "gen");
             CacheTransceiver ctx = CacheTransceiver.builder("ctx" + tag, cp).secret(secret).config(config).listen(loopback).build();
             CacheTransceiver gen = CacheTransceiver.builder("gen" + tag, gp).secret(secret).config(config).listen(loopback).build()) {
            gen.connect(ctx.controlAddress(), Duration.ofSeconds(20));
            ctx.awaitConnected(gen.name(), Duration.ofSeconds(20));
            Path ctxMd = Files.write(dir.resolve("ctx.md"), ctx.localMetadata());
            Path genMd = Files.write(dir.resolve("gen.md"), gen.localMetadata());
            AtomicBoolean attacked = new AtomicBoolean(true);
            ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            CompletableFuture<Long> legit = CompletableFuture.supplyAsync(() -> {
                long id = 1;
                for (; attacked.get() || id <= 20; id++) {
                    try (LlmRequest c = ctx.createRequest(id, 2); LlmRequest g = gen.createRequest(id, 2)) {
                        for (int b = 0; b < 2; b++) {
                            ctx.writeBlock(c, b, content(id, b));
                        }
                        gen.receive(g, ctx.name());
                        ctx.send(c, gen.name());
                        TransferOutcome og = g.outcome().get(30, TimeUnit.SECONDS);
                        TransferOutcome oc = c.outcome().get(30, TimeUnit.SECONDS);
                        if (!og.isCompleted() || !oc.isCompleted() || !Arrays.equals(content(id, 1), gen.readBlock(g, 1))) {
                            problems.add("request " + id + ": " + og + " / " + oc);
                        }
                    } catch (Exception e) {
                        problems.add("request " + id + ": " + e);
                    }
                }
                return id - 1;
            });
            ChildJvm.Result r;
            try {
                List<String> command = new java.util.ArrayList<>(List.of(Main.class.getName()));
                command.addAll(HostilePeer.arguments(List.of(ctx.controlAddress(), gen.controlAddress()), List.of(ctxMd, genMd), 4, 300));
                r = ChildJvm.run(dir, Map.of("NIXL_LOG_LEVEL", "ERROR"), List.of("--enable-native-access=ALL-UNNAMED",
                        "-Dkvx.native.dir=" + System.getProperty("kvx.native.dir")), command.toArray(String[]::new));
            } finally {
                attacked.set(false);
            }
            long done = legit.get(60, TimeUnit.SECONDS);
            System.out.println(r.out());
            assertEquals(0, r.status(), r.out() + r.err());
            String summary = r.out().lines().filter(l -> l.startsWith("HOSTILE DONE")).findFirst().orElseThrow(() -> new AssertionError(r.out()));
            assertTrue(summary.contains("controlLeaked=0") && summary.contains("controlHung=0"), summary);
            assertTrue(summary.contains("victims=" + ctx.name() + "," + gen.name()), summary);
            assertTrue(problems.isEmpty(), problems::toString);
            long refused = 0;
            for (CacheTransceiver tx : List.of(ctx, gen)) {
                TransceiverMetrics.Snapshot s = tx.metrics().snapshot();
                assertTrue(s.refusedOversize() >= 1, tx + " " + s);
                assertEquals(0, s.cancelled() + s.failed() + s.timedOut() + s.engineErrors() + s.requestErrors(), tx + " " + s);
                assertEquals(done, s.completed(), tx + " " + s);
                refused += s.refused() + s.malformedMessages() + s.foreignMessages();
            }
            assertTrue(refused >= 100, "the forged messages reached the victims and were refused: " + refused);
            System.out.println("hostile peer: " + summary + "; victims refused " + refused + " and completed " + done + " requests each side");
        }
    }

    @Test
    void withNothingToAttackItSaysWhatToGive() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        assertEquals(Main.USAGE, Main.run(new String[] {"hostile"}, out, out));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("--control"), bytes.toString(StandardCharsets.UTF_8));
    }
    @Test
    void aSoakWorkerHandsItsMetadataToTheHostilePeerWhenAsked(@TempDir Path dir) throws Exception {
        Path md = dir.resolve("worker.md");
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String name = "md-worker-" + ProcessHandle.current().pid();
        ChildJvm.Result r = ChildJvm.run(dir, Map.of("NIXL_LOG_LEVEL", "ERROR", "KVX_SECRET", "0123456789abcdef0123456789abcdef"),
                List.of("--enable-native-access=ALL-UNNAMED", "-Dkvx.native.dir=" + System.getProperty("kvx.native.dir")),
                Main.class.getName(), "worker", "--role=gen", "--name=" + name, "--port=" + port, "--seed=1", "--timeout-ms=1000",
                "--buffers=1", "--pool-blocks=8", "--tokens-per-block=4", "--layers=2", "--kv-heads=2", "--head-size=64",
                "--dtype-bytes=2", "--metadata-out=" + md);
        assertTrue(r.out().contains("READY " + name), r.out() + r.err()); // then stdin ends (no driver): it exits
        // NIXL metadata names its agent (loading it would connect to the worker, which is gone by now)
        String blob = new String(Files.readAllBytes(md), StandardCharsets.ISO_8859_1);
        assertTrue(blob.length() > 64 && blob.contains(name), blob.length() + " B");
        assertFalse(Files.exists(dir.resolve("worker.md.tmp")));
    }
}
