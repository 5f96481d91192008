package dev.kvx.cli.soak;

import dev.kvx.cli.VersionProvider;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvx soak}: the parameters of a soak run and their checks; the run itself is {@link SoakDriver}.
 * Defaults make the bare command take about 40 s on a 2-core machine with a small real model's KV shape
 * (28 layers × 8 KV heads × head size 128, bf16: 112 KiB per token).
 */
@Command(name = "soak", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class, sortOptions = false,
        usageHelpWidth = 110,
        description = {"The main job: prefill/decode stress-and-recovery run over real NIXL, with a report.",
            "A context and a generation worker as two processes over real NIXL (UCX): warm-up, burst, idle and recovery "
                + "probes with injected faults, live progress, and a report (table, report.json, report.html, report.png). "
                + "With --hosts N: prefill and decode workers in network-namespace hosts, found through etcd, with cross-host faults. "
                + "Exit status 1 when a request ended without an outcome, a block leaked, data did not verify, a probe failed, "
                + "or (--hostile-peer) the hostile peer got anything or affected a request."})
public final class SoakOptions implements Callable<Integer> {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--warmup", paramLabel = "S", defaultValue = "5", description = "warm-up seconds (${DEFAULT-VALUE})")
    int warmupSeconds;
    @Option(names = "--burst", paramLabel = "S", defaultValue = "25", description = "burst seconds (${DEFAULT-VALUE})")
    int burstSeconds;
    @Option(names = "--idle", paramLabel = "S", defaultValue = "5", description = "idle seconds (${DEFAULT-VALUE})")
    int idleSeconds;
    @Option(names = "--probes", paramLabel = "N", defaultValue = "5", description = "recovery probes after the idle phase (${DEFAULT-VALUE})")
    int probes;
    int warmupConcurrency = 2;
    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "16",
            description = "burst concurrency (${DEFAULT-VALUE}; the slot pool holds --buffers)")
    int burstConcurrency;
    @Option(names = "--buffers", paramLabel = "N", defaultValue = "4", description = "staging slots per side (${DEFAULT-VALUE})")
    int buffers;
    @Option(names = "--timeout-ms", paramLabel = "MS", defaultValue = "3000", description = "kvTransferTimeout (${DEFAULT-VALUE})")
    long timeoutMs;
    @Option(names = "--tokens-per-block", paramLabel = "N", defaultValue = "4", description = "KV shape: tokens per block (${DEFAULT-VALUE})")
    int tokensPerBlock;
    @Option(names = "--layers", paramLabel = "N", defaultValue = "28", description = "KV shape: layers (${DEFAULT-VALUE})")
    int layers;
    @Option(names = "--kv-heads", paramLabel = "N", defaultValue = "8", description = "KV shape: KV heads (${DEFAULT-VALUE})")
    int kvHeads;
    @Option(names = "--head-size", paramLabel = "N", defaultValue = "128", description = "KV shape: head size (${DEFAULT-VALUE})")
    int headSize;
    @Option(names = "--dtype-bytes", paramLabel = "N", defaultValue = "2", description = "KV shape: bytes per element (${DEFAULT-VALUE})")
    int dtypeBytes;
    @Option(names = "--mean-input", paramLabel = "N", defaultValue = "48",
            description = "mean input tokens per request, exponentially distributed (${DEFAULT-VALUE})")
    int meanInputTokens;
    @Option(names = "--max-input", paramLabel = "N", defaultValue = "128", description = "most input tokens per request (${DEFAULT-VALUE})")
    int maxInputTokens;
    @Option(names = "--pool-blocks", paramLabel = "N", description = "KV blocks per side (default: sized for the burst)")
    int poolBlocks; // 0: sized from concurrency and input lengths
    Map<String, Double> faults;

    @Option(names = "--faults", paramLabel = "SPEC",
            defaultValue = "silent-gen=0.01,no-ack=0.01,no-write=0.01,drop-notif=0.005,exception=0.01,late-write=0.002",
            description = "kind=rate,... or none; kinds: silent-gen, no-ack, no-write, drop-notif, exception, late-write "
                    + "(the context side's WRITE lands after the generation side gave up and past its quarantine timeout) "
                    + "(default: ${DEFAULT-VALUE})")
    void faults(String spec) {
        try {
            faults = SoakFaults.parse(spec);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(this.spec.commandLine(), "Invalid value for option '--faults': " + e.getMessage());
        }
    }

    @Option(names = "--kill-generation-at", paramLabel = "S", defaultValue = "-1", showDefaultValue = CommandLine.Help.Visibility.NEVER,
            description = "SIGKILL the generation worker S seconds after the load starts (warm-up starts at 0, the burst "
                + "at --warmup) and start a new one (default: no kill)")
    double killGenerationAt;
    @Option(names = "--hostile-peer", description = "during the burst, a third process attacks both workers without the secret: "
            + "forged, spoofed, tampered, replayed, oversized and flooded notifications, wrong-secret and junk control-channel "
            + "exchanges, metadata fetches; the report shows what it sent, what each worker refused, and the requests it affected "
            + "(must be 0); one host only, not with --hosts")
    boolean hostilePeer;
    @Option(names = "--hostile-rate", paramLabel = "N", defaultValue = "300",
            description = "with --hostile-peer: forged notifications per second, besides floods and oversized ones (${DEFAULT-VALUE})")
    double hostileRate;
    @Option(names = "--seed", paramLabel = "N", defaultValue = "42", description = "seed of sizes and faults (${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--report", paramLabel = "DIR", defaultValue = "soak-report",
            description = "where report.json, report.html and report.png go (${DEFAULT-VALUE})")
    Path reportDir;
    @CommandLine.Mixin
    HostsOptions hostsOptions = new HostsOptions();
    /** With --hosts: the hosts and the cross-host faults, set by {@link #validate()}. */
    HostsTopology topology;
    java.util.List<HostFault> hostFaults = java.util.List.of();

    /** Creates the options with their defaults (picocli fills them). */
    public SoakOptions() {}

    @Override
    public Integer call() throws Exception {
        validate();
        if (hostsOptions.enabled()) {
            return new HostsSoakDriver(this, spec.commandLine().getOut()).run();
        }
        return new SoakDriver(this, spec.commandLine().getOut()).run();
    }

    /** Checks the values; a bad one is a usage error (status 2) that names the option. */
    void validate() {
        nonNegative("--warmup", warmupSeconds);
        nonNegative("--burst", burstSeconds);
        nonNegative("--idle", idleSeconds);
        nonNegative("--probes", probes);
        positive("--concurrency", burstConcurrency);
        positive("--buffers", buffers);
        positive("--timeout-ms", timeoutMs);
        positive("--tokens-per-block", tokensPerBlock);
        positive("--layers", layers);
        positive("--kv-heads", kvHeads);
        positive("--head-size", headSize);
        positive("--dtype-bytes", dtypeBytes);
        positive("--mean-input", meanInputTokens);
        positive("--max-input", maxInputTokens);
        nonNegative("--pool-blocks", poolBlocks);
        if (killGenerationAt != -1 && !(killGenerationAt >= 0)) {
            throw bad("--kill-generation-at must be >= 0 seconds, got " + killGenerationAt);
        }
        if (killGenerationAt >= warmupSeconds + burstSeconds) {
            throw bad("--kill-generation-at " + killGenerationAt + " falls after the burst (warm-up + burst = "
                    + (warmupSeconds + burstSeconds) + " s): the kill is meant to hit requests in flight");
        }
        if (hostilePeer && burstSeconds == 0) {
            throw bad("--hostile-peer attacks during the burst: give --burst > 0");
        }
        if (!(hostileRate >= 0 && hostileRate <= 100_000)) {
            throw bad("--hostile-rate must be 0..100000 per second, got " + hostileRate);
        }
        if (maxInputTokens < meanInputTokens) {
            throw bad("--max-input must be >= --mean-input (" + maxInputTokens + " < " + meanInputTokens + ")");
        }
        validateHosts();
    }

    private void validateHosts() {
        HostsOptions h = hostsOptions;
        if (!h.enabled()) {
            if (h.anyFault()) {
                throw bad("--cut-link, --partition, --loss, --delay, --kill-host and --restart-etcd-at need --hosts N");
            }
            return;
        }
        if (killGenerationAt >= 0) {
            throw bad("--kill-generation-at is for the one-host soak; across hosts use --kill-host HOST@S[:D]");
        }
        if (hostilePeer) {
            throw bad("--hostile-peer is for the one-host soak (it attacks the workers' control channels on loopback); "
                    + "run it without --hosts, or run --hosts without it");
        }
        try {
            topology = new HostsTopology(h.hosts, h.prefill, h.decode);
            hostFaults = h.plan(this, topology);
        } catch (IllegalArgumentException e) {
            throw bad(e.getMessage());
        }
    }

    private void positive(String opt, long v) {
        if (v <= 0) {
            throw bad(opt + " must be positive, got " + v);
        }
    }

    private void nonNegative(String opt, long v) {
        if (v < 0) {
            throw bad(opt + " must be >= 0, got " + v);
        }
    }

    private CommandLine.ParameterException bad(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
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
}
