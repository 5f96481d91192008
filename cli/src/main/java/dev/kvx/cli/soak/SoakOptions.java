package dev.kvx.cli.soak;

import java.nio.file.Path;
import java.util.Map;

/**
 * Parameters of a soak run. Defaults make the bare command take about a minute on a 2-core machine
 * with a small real model's KV shape (28 layers × 8 KV heads × head size 128, bf16: 112 KiB per token).
 */
final class SoakOptions {
    int warmupSeconds = 5;
    int burstSeconds = 25;
    int idleSeconds = 5;
    int probes = 5;
    int warmupConcurrency = 2;
    int burstConcurrency = 16;
    int buffers = 4;
    int tokensPerBlock = 4;
    int layers = 28;
    int kvHeads = 8;
    int headSize = 128;
    int dtypeBytes = 2;
    int meanInputTokens = 48;
    int maxInputTokens = 128;
    int poolBlocks = 0; // 0: sized from concurrency and input lengths
    long timeoutMs = 3000;
    long seed = 42;
    Map<String, Double> faults = SoakFaults.parse("silent-gen=0.01,no-ack=0.01,no-write=0.01,drop-notif=0.005,exception=0.01,late-write=0.005");
    double killGenerationAt = -1;
    Path reportDir = Path.of("soak-report");

    static String usage() {
        return """
                usage: kvx soak [options]
                  --warmup S --burst S --idle S   phase lengths in seconds (5, 25, 5)
                  --probes N                      recovery probes after the idle phase (5)
                  --concurrency N                 burst concurrency (16; the buffer pool holds --buffers)
                  --buffers N                     staging slots per side (4)
                  --timeout-ms MS                 kvTransferTimeout (3000)
                  --tokens-per-block N --layers N --kv-heads N --head-size N --dtype-bytes N   KV shape (4, 28, 8, 128, 2)
                  --mean-input N --max-input N    input tokens per request (48, 128), exponential around the mean
                  --pool-blocks N                 KV blocks per side (default: sized for the burst)
                  --faults SPEC                   kind=rate,... or none; kinds: silent-gen, no-ack, no-write,
                                                  drop-notif, exception, late-write (default: each at 0.5-1%)
                  --kill-generation-at S          SIGKILL the generation worker S seconds after the load starts
                                                  (warm-up starts at 0, the burst at --warmup) and start a new one
                  --seed N                        (42)
                  --report DIR                    where report.json and report.html go (soak-report)""";
    }

    static SoakOptions parse(String[] args) {
        SoakOptions o = new SoakOptions();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                throw new HelpRequested();
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(a + " needs a value\n" + usage());
            }
            String v = args[++i];
            try {
                switch (a) {
                    case "--warmup" -> o.warmupSeconds = nonNegative(a, Integer.parseInt(v));
                    case "--burst" -> o.burstSeconds = nonNegative(a, Integer.parseInt(v));
                    case "--idle" -> o.idleSeconds = nonNegative(a, Integer.parseInt(v));
                    case "--probes" -> o.probes = nonNegative(a, Integer.parseInt(v));
                    case "--concurrency" -> o.burstConcurrency = positive(a, Integer.parseInt(v));
                    case "--buffers" -> o.buffers = positive(a, Integer.parseInt(v));
                    case "--timeout-ms" -> o.timeoutMs = positive(a, Integer.parseInt(v));
                    case "--tokens-per-block" -> o.tokensPerBlock = positive(a, Integer.parseInt(v));
                    case "--layers" -> o.layers = positive(a, Integer.parseInt(v));
                    case "--kv-heads" -> o.kvHeads = positive(a, Integer.parseInt(v));
                    case "--head-size" -> o.headSize = positive(a, Integer.parseInt(v));
                    case "--dtype-bytes" -> o.dtypeBytes = positive(a, Integer.parseInt(v));
                    case "--mean-input" -> o.meanInputTokens = positive(a, Integer.parseInt(v));
                    case "--max-input" -> o.maxInputTokens = positive(a, Integer.parseInt(v));
                    case "--pool-blocks" -> o.poolBlocks = positive(a, Integer.parseInt(v));
                    case "--faults" -> o.faults = SoakFaults.parse(v);
                    case "--kill-generation-at" -> {
                        o.killGenerationAt = Double.parseDouble(v);
                        if (!(o.killGenerationAt >= 0)) {
                            throw new IllegalArgumentException(a + " must be >= 0 seconds, got " + v);
                        }
                    }
                    case "--seed" -> o.seed = Long.parseLong(v);
                    case "--report" -> o.reportDir = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option " + a + "\n" + usage());
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(a + " needs a number, got '" + v + "'");
            }
        }
        if (o.killGenerationAt >= o.warmupSeconds + o.burstSeconds) {
            throw new IllegalArgumentException("--kill-generation-at " + o.killGenerationAt + " falls after the burst (warm-up + burst = "
                    + (o.warmupSeconds + o.burstSeconds) + " s): the kill is meant to hit requests in flight");
        }
        if (o.maxInputTokens < o.meanInputTokens) {
            throw new IllegalArgumentException("--max-input must be >= --mean-input");
        }
        return o;
    }

    private static int positive(String opt, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(opt + " must be positive, got " + v);
        }
        return v;
    }

    private static int nonNegative(String opt, int v) {
        if (v < 0) {
            throw new IllegalArgumentException(opt + " must be >= 0, got " + v);
        }
        return v;
    }

    long blockBytes() {
        return (long) tokensPerBlock * layers * 2 * kvHeads * headSize * dtypeBytes;
    }

    int maxBlocks() {
        return (maxInputTokens + tokensPerBlock - 1) / tokensPerBlock;
    }

    int effectivePoolBlocks() {
        return poolBlocks > 0 ? poolBlocks : burstConcurrency * ((meanInputTokens + tokensPerBlock - 1) / tokensPerBlock) * 2 + maxBlocks();
    }

    /** Thrown for --help. */
    static final class HelpRequested extends RuntimeException {
        private static final long serialVersionUID = 1L;

        HelpRequested() {
            super(null, null, false, false);
        }
    }
}
