package dev.kvx.transceiver;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.internal.NativeLibraries;
import dev.kvx.kv.KvBlockPool;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Context and generation in separate JVMs on loopback: metadata through NIXL's own listener sockets,
 * KV blocks through NIXL WRITE (UCX), 1,000 requests of 64 blocks (1 MiB each) with verified contents.
 */
class TwoProcessTransceiverTest {
    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void thousandRequestsOf64BlocksBetweenTwoProcessesArriveIntact() throws Exception {
        run(false, 1000);
    }

    /** The same with both KV pools in GPU 0's memory (two processes: UCX may use cuda_ipc). */
    @Test
    @org.junit.jupiter.api.Tag("gpu")
    void thousandVramRequestsBetweenTwoProcessesOnOneGpuArriveIntact() throws Exception {
        dev.kvx.cuda.CudaInfo info = dev.kvx.cuda.Cuda.probe();
        org.junit.jupiter.api.Assumptions.assumeTrue(info.available(), () -> "skipped: " + info.reason());
        run(true, 1000);
    }

    /**
     * Prefill GPU to decode GPU: the context process's pool on GPU 0, the generation side's on GPU 1
     * (ci/device-two-gpu.sh; skipped with fewer than two GPUs).
     */
    @Test
    @org.junit.jupiter.api.Tag("gpu")
    void thousandVramRequestsFromGpu0ToGpu1ArriveIntact() throws Exception {
        dev.kvx.cuda.CudaInfo info = dev.kvx.cuda.Cuda.probe();
        org.junit.jupiter.api.Assumptions.assumeTrue(info.available(), () -> "skipped: " + info.reason());
        org.junit.jupiter.api.Assumptions.assumeTrue(info.deviceCount() >= 2, () -> "skipped: needs two GPUs, this machine has "
                + info.deviceCount());
        String ctx = System.getProperty("kvx.test.ctxDevice");
        String gen = System.getProperty("kvx.test.genDevice");
        System.setProperty("kvx.test.ctxDevice", "0");
        System.setProperty("kvx.test.genDevice", "1");
        try {
            run(true, 1000);
        } finally {
            restore("kvx.test.ctxDevice", ctx);
            restore("kvx.test.genDevice", gen);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    private void run(boolean vram, int requests) throws Exception {
        int concurrency = 8;
        int blocks = TwoProcessWorkload.BLOCKS_PER_REQUEST;
        String genName = "gen-proc-" + ProcessHandle.current().pid();
        String ctxName = "ctx-proc-" + ProcessHandle.current().pid();
        Path log = Files.createTempFile("kvx-ctx-worker", ".log");
        Path secretFile = Files.createTempFile("kvx-secret", ".key", java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        byte[] secretBytes = new byte[32];
        new java.security.SecureRandom().nextBytes(secretBytes);
        Files.writeString(secretFile, java.util.HexFormat.of().formatHex(secretBytes));
        try (KvBlockPool pool = TwoProcessWorkload.pool(vram, blocks * concurrency, "gen-pool");
             CacheTransceiver gen = CacheTransceiver.builder(genName, pool).secret(SharedSecret.fromFile(secretFile))
                     .config(CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofSeconds(30)).withBufferCounts(concurrency, concurrency))
                     .listen(new java.net.InetSocketAddress("127.0.0.1", 0)).build()) {
            int genPort = gen.controlAddress().getPort();
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-Dkvx.native.dir=" + NativeLibraries.nativeDir(),
                    "-Dkvx.test.ctxDevice=" + Integer.getInteger("kvx.test.ctxDevice", 0),
                    "-cp", System.getProperty("java.class.path"), ContextWorkerMain.class.getName(),
                    ctxName, String.valueOf(genPort), genName, String.valueOf(requests),
                    String.valueOf(concurrency), vram ? "vram" : "dram"));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("KVX_SECRET_FILE", secretFile.toString());
            Process worker = pb.start();
            try {
                long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!gen.isConnected(ctxName)) { // the worker connects through our control channel
                    assertTrue(worker.isAlive(), () -> "context worker died: " + read(log));
                    assertTrue(System.nanoTime() < waitUntil, () -> "no metadata from the context worker: " + read(log));
                    Thread.sleep(10);
                }
                Semaphore permits = new Semaphore(concurrency);
                ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
                ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
                AtomicLong verified = new AtomicLong();
                long t0 = System.nanoTime();
                for (long id = 1; id <= requests; id++) {
                    assertTrue(permits.tryAcquire(60, TimeUnit.SECONDS), "outcomes stopped arriving");
                    LlmRequest g = gen.createRequest(id, blocks);
                    gen.receive(g, ctxName).whenComplete((o, t) -> {
                        try {
                            if (o == null || !o.isCompleted()) {
                                problems.add("request " + g.id() + ": " + (o != null ? o.status() + " " + o.detail() : t));
                                return;
                            }
                            latencies.add(o.latencyNanos());
                            for (int b = 0; b < blocks; b++) {
                                if (!Arrays.equals(TwoProcessWorkload.blockContent(g.id(), b), gen.readBlock(g, b))) {
                                    problems.add("request " + g.id() + " block " + b + " differs");
                                    return;
                                }
                            }
                            verified.incrementAndGet();
                        } finally {
                            g.close();
                            permits.release();
                        }
                    });
                }
                assertTrue(permits.tryAcquire(concurrency, 60, TimeUnit.SECONDS), "last outcomes did not arrive");
                long elapsed = System.nanoTime() - t0;
                assertTrue(problems.isEmpty(), () -> problems.stream().limit(5).toList() + "\n" + read(log));
                assertEquals(requests, verified.get());
                assertTrue(worker.waitFor(60, TimeUnit.SECONDS), "context worker did not exit");
                assertEquals(0, worker.exitValue(), () -> read(log));
                assertTrue(read(log).contains("CTX DONE completed=" + requests + " other=0"), () -> read(log));
                long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
                String where = !vram ? "two-process DRAM" : "two-process VRAM (GPU " + Integer.getInteger("kvx.test.ctxDevice", 0)
                        + " -> GPU " + Integer.getInteger("kvx.test.genDevice", 0) + ")";
                System.out.printf(Locale.ROOT, where + ": %d requests x %d blocks (%d KiB each) in %.2f s = %.0f req/s, %.2f GB/s;"
                                + " latency p50 %.2f ms, p99 %.2f ms, max %.2f ms (concurrency %d)%n", requests, blocks,
                        TwoProcessWorkload.LAYOUT.blockBytes() / 1024, elapsed / 1e9, requests / (elapsed / 1e9),
                        requests * blocks * TwoProcessWorkload.LAYOUT.blockBytes() / (double) elapsed,
                        l[l.length / 2] / 1e6, l[(int) (l.length * 0.99)] / 1e6, l[l.length - 1] / 1e6, concurrency);
                assertEquals(0, gen.metrics().snapshot().recvSlotsInUse());
                assertEquals(pool.capacity(), pool.freeBlocks());
            } finally {
                worker.destroyForcibly();
                worker.waitFor(10, TimeUnit.SECONDS);
            }
        } finally {
            Files.deleteIfExists(log);
            Files.deleteIfExists(secretFile);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }
}
