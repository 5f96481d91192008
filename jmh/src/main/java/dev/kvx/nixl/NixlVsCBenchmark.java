package dev.kvx.nixl;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Java side of {@code jmh/c/nixl_baseline.c}: the same NIXL calls on the same agent setup
 * (kvx's defaults: progress thread with 1 ms delay, UCX with NIXL's default parameters), through
 * kvx's FFM bindings. {@code jmh/run-benchmarks.sh} runs both and writes the ratios to BENCHMARKS.md.
 * In package {@code dev.kvx.nixl} only to reach {@link Transfer#pollNativeStatus()}, the uncached
 * status call the C program makes.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class NixlVsCBenchmark {
    static final int MAX = 64 << 20;

    /** Two agents in this JVM with 64 MiB registered on each side, like the C program's pair. */
    @State(Scope.Benchmark)
    public static class Pair {
        NixlAgent initiator;
        NixlAgent target;
        HostBuffer src;
        HostBuffer dst;
        Registration regA;
        Registration regB;

        @Setup(Level.Trial)
        public void open() {
            if (System.getProperty("kvx.native.dir") == null) {
                System.setProperty("kvx.native.dir", System.getenv().getOrDefault("KVX_NATIVE_DIR", ".native"));
            }
            initiator = NixlAgent.createWithUcx("j-bench-initiator");
            target = NixlAgent.createWithUcx("j-bench-target");
            src = HostBuffer.allocate(MAX, "src");
            dst = HostBuffer.allocate(MAX, "dst");
            src.fill(0, MAX, (byte) 1);
            regA = initiator.register(src);
            regB = target.register(dst);
            initiator.loadRemoteMetadata(target.localMetadata());
        }

        Transfer write(long offset, long size) {
            return initiator.createTransfer(TransferOp.WRITE, MemoryKind.DRAM,
                    List.of(new MemoryDescriptor(src.address() + offset, size, 0)), MemoryKind.DRAM,
                    List.of(new MemoryDescriptor(dst.address() + offset, size, 0)), target.name(), null);
        }

        @TearDown(Level.Trial)
        public void close() {
            regA.close();
            regB.close();
            initiator.close();
            target.close();
            src.close();
            dst.close();
        }
    }

    static void spinUntilDone(Transfer t) {
        while (t.status() != TransferState.DONE) {
            Thread.onSpinWait();
        }
    }

    /** A finished 4 KiB WRITE, for the status calls. */
    @State(Scope.Benchmark)
    public static class Finished {
        Transfer transfer;

        @Setup(Level.Trial)
        public void open(Pair p) {
            transfer = p.write(0, 4096);
            transfer.post();
            spinUntilDone(transfer);
        }

        @TearDown(Level.Trial)
        public void close() {
            transfer.close();
        }
    }

    /** One prepared WRITE of {@code size} bytes. */
    @State(Scope.Benchmark)
    public static class Prepared {
        @Param({"4096", "65536", "1048576", "16777216", "67108864"})
        int size;
        Transfer transfer;

        @Setup(Level.Trial)
        public void open(Pair p) {
            transfer = p.write(0, size);
        }

        @TearDown(Level.Trial)
        public void close() throws InterruptedException {
            transfer.await(java.time.Duration.ofSeconds(10));
            transfer.close();
        }
    }

    /** {@code depth} prepared WRITEs of {@code size} bytes, all posted: the ring the C program runs. */
    @State(Scope.Benchmark)
    public static class Ring {
        @Param({"4096", "65536"})
        int size;
        @Param({"64"})
        int depth;
        Transfer[] ring;
        int next;

        @Setup(Level.Trial)
        public void open(Pair p) {
            ring = new Transfer[depth];
            for (int i = 0; i < depth; i++) {
                ring[i] = p.write((long) i * size, size);
                ring[i].post();
            }
        }

        @TearDown(Level.Trial)
        public void close() throws InterruptedException {
            for (Transfer t : ring) {
                t.await(java.time.Duration.ofSeconds(10));
                t.close();
            }
        }
    }

    /** One nixl_capi_get_xfer_status through FFM (C: status_poll). */
    @Benchmark
    public NixlStatus statusPollNative(Finished f) {
        return f.transfer.pollNativeStatus();
    }

    /** Breakdown of statusPollNative: the bare downcall, without kvx's agent lock or status mapping. */
    @Benchmark
    public int breakdownBareDowncall(Finished f) {
        return f.transfer.agent.statusNative(f.transfer.handle);
    }

    /** Breakdown of statusPollNative: kvx's agent lock alone (uncontended lock + unlock). */
    @Benchmark
    public void breakdownAgentLock(Finished f) {
        f.transfer.agent.lock();
        f.transfer.agent.unlock();
    }

    /** kvx's public status() of a finished transfer: answered from Java, no native call. */
    @Benchmark
    public TransferState statusPollPublicDone(Finished f) {
        return f.transfer.status();
    }

    /** An empty notification drain (C: notif_drain). */
    @Benchmark
    public int notificationDrain(Pair p) {
        return p.target.pollNotifications().size();
    }

    /** Post a prepared WRITE and spin on its status until done (C: post_done). */
    @Benchmark
    public TransferState postDone(Prepared w) {
        w.transfer.post();
        spinUntilDone(w.transfer);
        return TransferState.DONE;
    }

    /** Many in flight: wait for the oldest, repost it (C: inflight); one op = one transfer. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public int inflight(Ring r) {
        int i = r.next;
        Transfer t = r.ring[i];
        spinUntilDone(t);
        t.post();
        r.next = (i + 1) % r.depth;
        return i;
    }
}
