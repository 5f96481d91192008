package dev.kvx.transceiver;

import dev.kvx.kv.KvBlockPool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The victims of {@link HostilePeerTest}: a context and a generation transceiver in this JVM, over real
 * NIXL (UCX), each with a control channel on loopback and the same secret (from a file only this user can
 * read). The generation side connects through the context side's control channel. Their NIXL metadata is
 * also written to files, so that the hostile process can be handed it "as if it had leaked".
 */
final class Victims implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    final Path dir;
    final Path secretFile;
    final SharedSecret secret;
    final KvBlockPool ctxPool;
    final KvBlockPool genPool;
    final CacheTransceiver ctx;
    final CacheTransceiver gen;
    final Path ctxMetadata;
    final Path genMetadata;

    /**
     * @param ctxCallerDriven the context side runs no engine thread: the test drives it with poll()
     */
    Victims(CacheTransceiverConfig ctxConfig, boolean ctxCallerDriven) throws Exception {
        int n = SEQ.incrementAndGet();
        String tag = ProcessHandle.current().pid() + "-" + n;
        dir = Files.createTempDirectory("kvx-hostile");
        secretFile = dir.resolve("kvx.secret");
        Files.createFile(secretFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        Files.writeString(secretFile, HexFormat.of().formatHex(b));
        secret = SharedSecret.fromFile(secretFile);
        ctxPool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 64, "ctx-pool");
        genPool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 64, "gen-pool");
        InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", 0);
        CacheTransceiver.Builder cb = CacheTransceiver.builder("victim-ctx-" + tag, ctxPool).config(ctxConfig).secret(secret).listen(loopback);
        // Caller-driven, the context side keeps NIXL's progress thread: notifications then arrive in NIXL's list
        // while the test holds off polling, so one poll takes a whole batch (the engine-driven default would
        // receive nothing until polled).
        ctx = (ctxCallerDriven ? cb.callerDriven().agentConfig(dev.kvx.nixl.AgentConfig.defaults()) : cb).build();
        gen = CacheTransceiver.builder("victim-gen-" + tag, genPool).secret(secret).listen(loopback)
                .config(CacheTransceiverConfig.defaults().withKvTransferTimeout(java.time.Duration.ofSeconds(60)).withBufferCounts(32, 32))
                .build();
        // a caller-driven context side answers the handshake only while polled: this thread polls, another connects
        java.util.concurrent.CompletableFuture<String> connected = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> gen.connect(ctx.controlAddress(), TransceiverPair.CONNECT));
        ctx.awaitConnected(gen.name(), TransceiverPair.CONNECT);
        connected.get(30, java.util.concurrent.TimeUnit.SECONDS);
        ctxMetadata = Files.write(dir.resolve("ctx.md"), ctx.localMetadata());
        genMetadata = Files.write(dir.resolve("gen.md"), gen.localMetadata());
    }

    /** The KV bytes of one block of one request. */
    static byte[] content(long id, int block) {
        byte[] out = new byte[(int) TransceiverPair.LAYOUT.blockBytes()];
        SplittableRandom r = new SplittableRandom(id * 1_000_003L + block);
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) r.nextInt();
        }
        return out;
    }

    /** A context request whose blocks hold {@link #content}. */
    LlmRequest ctxRequest(long id, int blocks) {
        LlmRequest r = ctx.createRequest(id, blocks);
        for (int i = 0; i < blocks; i++) {
            ctx.writeBlock(r, i, content(id, i));
        }
        return r;
    }

    /** Whether the generation side's request holds {@code id}'s content in every block. */
    boolean arrivedIntact(LlmRequest genRequest, long id) {
        for (int i = 0; i < genRequest.blockCount(); i++) {
            if (!java.util.Arrays.equals(content(id, i), gen.readBlock(genRequest, i))) {
                return false;
            }
        }
        return true;
    }

    static String host(CacheTransceiver tx) {
        return tx.controlAddress().getHostString() + " " + tx.controlAddress().getPort();
    }

    String describe() {
        return "ctx " + ctx.metrics().snapshot() + "\ngen " + gen.metrics().snapshot();
    }

    @Override
    public void close() throws IOException {
        ctx.close();
        gen.close();
        ctxPool.close();
        genPool.close();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }
}
