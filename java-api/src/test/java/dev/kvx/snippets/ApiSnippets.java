package dev.kvx.snippets;

import dev.kvx.cuda.Cuda;
import dev.kvx.cuda.CudaDevice;
import dev.kvx.cuda.CudaInfo;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.kv.KvCacheLayout;
import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Notification;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import dev.kvx.transceiver.CacheTransceiver;
import dev.kvx.transceiver.CacheTransceiverConfig;
import dev.kvx.transceiver.NanoClock;
import dev.kvx.transceiver.SharedSecret;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;

/**
 * The code of the javadoc's {@code {@snippet}} examples (javadoc reads the regions from here with
 * {@code --snippet-path src/test/java}), compiled and run by {@code ApiSnippetsTest} so the examples
 * stay true.
 */
public final class ApiSnippets {
    private ApiSnippets() {}

    /** dev.kvx.nixl: a WRITE with a completion notification between two agents. */
    static List<Notification> transfer(long size) throws InterruptedException {
        // @start region="transfer"
        try (NixlAgent ctx = NixlAgent.createWithUcx("context");
             NixlAgent gen = NixlAgent.createWithUcx("generation");
             HostBuffer src = HostBuffer.allocate(size, "kv");
             HostBuffer dst = HostBuffer.allocate(size, "kv")) {
            try (Registration a = ctx.register(src); Registration b = gen.register(dst)) {
                ctx.loadRemoteMetadata(gen.localMetadata());   // across processes: send these bytes to the peer
                try (Transfer t = ctx.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()),
                        MemoryKind.DRAM, List.of(dst.descriptor()), gen.name(), "done".getBytes())) {
                    t.post();
                    TransferState s = t.await(Duration.ofSeconds(5));  // DONE, or IN_PROGRESS at the deadline
                    if (s != TransferState.DONE) {
                        throw new IllegalStateException("not done in 5 s: " + s);
                    }
                }
                return gen.awaitNotifications(Duration.ofSeconds(5));  // the "done" notification
            }
        }
        // @end
    }

    /** dev.kvx.memory: a host buffer, written, read and checksummed. */
    static long hostBuffer() {
        // @start region="host-buffer"
        try (HostBuffer buf = HostBuffer.allocate(64 * 1024, "kv")) {
            buf.write(0, new byte[] {1, 2, 3, 4});
            byte[] back = new byte[4];
            buf.read(0, back);
            return buf.checksum(0, buf.size());                    // CRC32C of the contents
        }
        // @end
    }

    /** dev.kvx.kv: a pool of KV blocks in host memory. */
    static int pool() {
        // @start region="pool"
        KvCacheLayout layout = new KvCacheLayout(4, 28, 8, 128, 2);  // tokens/block, layers, KV heads, head size, dtype bytes
        try (KvBlockPool pool = KvBlockPool.inHostMemory(layout, 64, "kv")) {
            Optional<int[]> blocks = pool.allocate(3);              // empty when the pool is exhausted
            blocks.ifPresent(pool::free);
            return pool.freeBlocks();                               // 64 again
        }
        // @end
    }

    /** dev.kvx.cuda: the devices, or why there are none. */
    static String devices() {
        // @start region="probe"
        CudaInfo cuda = Cuda.probe();                             // never throws for a missing GPU or driver
        if (!cuda.available()) {
            return cuda.reason();                                 // e.g. "no CUDA device: ..."
        }
        StringBuilder sb = new StringBuilder();
        for (CudaDevice d : cuda.devices()) {
            sb.append(d.ordinal()).append(": ").append(d.name()).append('\n');
        }
        return sb.toString();
        // @end
    }

    /** dev.kvx.transceiver: a transceiver built with the settings a server sets. */
    static CacheTransceiver builder(String name, KvBlockPool pool, SharedSecret secret, ExecutorService callbacks) {
        // @start region="builder"
        CacheTransceiver transceiver = CacheTransceiver.builder(name, pool)                 // the NIXL agent's name, the KV pool
                .secret(secret)                                   // default: SharedSecret.fromConfiguration()
                .config(CacheTransceiverConfig.defaults()
                        .withKvTransferTimeout(Duration.ofSeconds(30))
                        .withBufferCounts(4, 4))                  // staging slots: send, receive
                .agentConfig(AgentConfig.defaults().withProgressThread(false)) // the engine drives UCX itself
                .ucxParams(NixlAgent.defaultUcxParams())          // UCX backend parameters
                .callbackExecutor(callbacks)                      // where outcomes complete (never the engine thread)
                .threadFactory(Thread.ofPlatform().name("kvx-engine-" + name).daemon().factory())
                .clock(NanoClock.system())                        // the engine's time source
                .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)) // peers connect here after the handshake
                .build();
        // @end
        return transceiver;
    }

    /** dev.kvx.transceiver: leaving a rolling restart without cutting a transfer short. */
    static boolean drainForRestart(CacheTransceiver transceiver) {
        // @start region="drain"
        // first take this worker out of the router, so no new requests come; then, e.g. in a shutdown hook:
        boolean clean = transceiver.drain(Duration.ofSeconds(30)); // live requests finish, peers prove their writes over, then close()
        if (!clean) {
            // at the deadline something was still live (it ended CANCELLED) or blocks stayed quarantined
            System.getLogger("serving").log(System.Logger.Level.WARNING, "kvx drained with work left: " + transceiver.metrics().snapshot());
        }
        // @end
        return clean;
    }
}
