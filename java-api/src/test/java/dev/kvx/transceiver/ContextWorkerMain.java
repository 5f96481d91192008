package dev.kvx.transceiver;

import dev.kvx.kv.KvBlockPool;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The context (prefill) worker of the two-process test, run in its own JVM:
 * {@code ContextWorkerMain <name> <genControlPort> <genName> <requests> <concurrency> [dram|vram]}, with the
 * shared secret in {@code KVX_SECRET_FILE}. It connects to the generation side through its control channel.
 * Prints one line {@code CTX DONE completed=N other=M} and exits 0 if every request completed.
 */
public final class ContextWorkerMain {
    private ContextWorkerMain() {}

    /** Runs the worker. */
    public static void main(String[] args) throws Exception {
        String name = args[0];
        int genPort = Integer.parseInt(args[1]);
        String genName = args[2];
        int requests = Integer.parseInt(args[3]);
        int concurrency = Integer.parseInt(args[4]);
        boolean vram = args.length > 5 && args[5].equals("vram");
        int blocks = TwoProcessWorkload.BLOCKS_PER_REQUEST;
        AtomicLong completed = new AtomicLong();
        AtomicLong other = new AtomicLong();
        try (KvBlockPool pool = TwoProcessWorkload.pool(vram, blocks * concurrency, "ctx-pool");
             CacheTransceiver ctx = CacheTransceiver.builder(name, pool).secret(SharedSecret.fromConfiguration())
                     .config(CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofSeconds(30)).withBufferCounts(concurrency, concurrency))
                     .build()) {
            String peer = ctx.connect(new java.net.InetSocketAddress("127.0.0.1", genPort), Duration.ofSeconds(30));
            if (!peer.equals(genName)) {
                throw new IllegalStateException("connected to " + peer + ", expected " + genName);
            }
            System.out.println("CTX CONNECTED " + genName);
            Semaphore permits = new Semaphore(concurrency);
            for (long id = 1; id <= requests; id++) {
                permits.acquire();
                LlmRequest c = ctx.createRequest(id, blocks);
                for (int b = 0; b < blocks; b++) {
                    ctx.writeBlock(c, b, TwoProcessWorkload.blockContent(id, b));
                }
                ctx.send(c, genName).whenComplete((o, t) -> {
                    if (o != null && o.isCompleted()) {
                        completed.incrementAndGet();
                    } else {
                        other.incrementAndGet();
                        System.out.println("CTX request " + c.id() + ": " + (o != null ? o.status() + " " + o.detail() : t));
                    }
                    c.close();
                    permits.release();
                });
            }
            if (!permits.tryAcquire(concurrency, 60, TimeUnit.SECONDS)) {
                System.out.println("CTX stuck waiting for outcomes");
            }
        }
        System.out.println("CTX DONE completed=" + completed.get() + " other=" + other.get());
        System.exit(completed.get() == requests ? 0 : 1);
    }
}
