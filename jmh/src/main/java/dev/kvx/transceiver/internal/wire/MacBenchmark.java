package dev.kvx.transceiver.internal.wire;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What authentication costs per message: HMAC-SHA256 (16-byte tag) signing and checking of kvx's frames,
 * and a whole encode or decode, for the sizes a request sends — a completion notice or an abort (56 B), an
 * announcement of 12 and of 64 blocks (105 B, 313 B) — beside the unauthenticated frame work. A request
 * in push mode sends one announcement and one completion notice; {@code jmh/run-benchmarks.sh} puts these
 * next to the transfer they protect in BENCHMARKS.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1)
@State(Scope.Thread)
public class MacBenchmark {
    /** Blocks in the announcement (0: a completion notice). */
    @Param({"0", "12", "64"})
    public int blocks;

    private final MacKey key = new MacKey(new byte[32]);
    private WireMessage message;
    private byte[] frame;
    private long seq;

    @Setup
    public void setUp() {
        int[] ids = new int[Math.max(1, blocks)];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i * 7;
        }
        message = blocks == 0 ? new WireMessage.Done(42, 7) : new WireMessage.Announce(42, 7, 1, false, ids);
        frame = WireCodec.encode(message, 0x1234, 1, key);
    }

    /** Sign one frame in place (what the sender adds). */
    @Benchmark
    public byte[] sign() {
        key.sign(frame, frame.length - MacKey.TAG);
        return frame;
    }

    /** Check one frame's tag (what the receiver adds). */
    @Benchmark
    public boolean verify() {
        return key.verify(frame, frame.length - MacKey.TAG);
    }

    /** Encode and sign a message (the whole send-side frame work). */
    @Benchmark
    public byte[] encodeSigned() {
        return WireCodec.encode(message, 0x1234, ++seq, key);
    }

    /** Check the header and the MAC, then decode (the whole receive-side frame work). */
    @Benchmark
    public Object verifyAndDecode() {
        WireCodec.checkHeader(frame);
        if (!WireCodec.macValid(frame, key)) {
            throw new AssertionError();
        }
        return WireCodec.decode(frame);
    }

    /** Decode alone, without the MAC check: the baseline of {@link #verifyAndDecode}. */
    @Benchmark
    public Object decodeOnly() {
        return WireCodec.decode(frame);
    }
}
