package dev.kvx.bench;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.time.Duration;
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
 * Smoke benchmark of kvx's NIXL hot path through FFM, on real NIXL (UCX), two agents in one JVM:
 * an empty notification drain (one {@code nixl_capi_get_notifs} plus one map-size call) and a full
 * post-to-done round trip of a prepared WRITE. The C and memcpy baselines of DESIGN.md's table come
 * with the performance issue.
 * Run: {@code java --enable-native-access=ALL-UNNAMED -Dkvx.native.dir=.native -jar jmh/target/kvx-benchmarks.jar}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class NixlHotPathBenchmark {
    @Param({"4096"})
    int size;

    private NixlAgent initiator;
    private NixlAgent target;
    private HostBuffer src;
    private HostBuffer dst;
    private Registration regA;
    private Registration regB;
    private Transfer transfer;

    /** Two agents, registered buffers, one prepared WRITE. */
    @Setup(Level.Trial)
    public void setUp() {
        String native_ = System.getProperty("kvx.native.dir");
        if (native_ == null) {
            System.setProperty("kvx.native.dir", System.getenv().getOrDefault("KVX_NATIVE_DIR", ".native"));
        }
        initiator = NixlAgent.createWithUcx("bench-initiator");
        target = NixlAgent.createWithUcx("bench-target");
        src = HostBuffer.allocate(size, "src");
        dst = HostBuffer.allocate(size, "dst");
        regA = initiator.register(src);
        regB = target.register(dst);
        initiator.loadRemoteMetadata(target.localMetadata());
        transfer = initiator.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()), MemoryKind.DRAM,
                List.of(dst.descriptor()), target.name(), null);
    }

    /** Releases everything in order. */
    @TearDown(Level.Trial)
    public void tearDown() {
        transfer.close();
        regA.close();
        regB.close();
        initiator.close();
        target.close();
        src.close();
        dst.close();
    }

    /** An empty notification drain: the cost of the engine's idle poll. */
    @Benchmark
    public int emptyNotificationDrain() {
        return target.pollNotifications().size();
    }

    /** Post a prepared WRITE and poll it to completion. */
    @Benchmark
    public TransferState postAndAwaitPreparedWrite() throws InterruptedException {
        transfer.post();
        return transfer.await(Duration.ofSeconds(5));
    }
}
