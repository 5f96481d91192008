package dev.kvx.cli;

import java.io.PrintStream;
import java.util.Arrays;

/** The {@code kvx} command: {@code doctor}, {@code demo}. */
public final class Main {
    private Main() {}

    /** Runs a subcommand and exits with its status. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a subcommand; returns the exit status (testable without exiting). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String cmd = args.length == 0 ? "help" : args[0];
        String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
        try {
            return switch (cmd) {
                case "doctor" -> Doctor.run(out);
                case "demo" -> Demo.run(rest, out);
                case "soak" -> dev.kvx.cli.soak.SoakDriver.main(rest, out);
                case "help", "-h", "--help" -> {
                    usage(out);
                    yield 0;
                }
                default -> {
                    err.println("kvx: unknown command '" + cmd + "'");
                    usage(err);
                    yield 2;
                }
            };
        } catch (IllegalArgumentException e) {
            err.println("kvx " + cmd + ": " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            err.println("kvx " + cmd + " failed: " + e);
            return 1;
        } catch (Exception e) {
            err.println("kvx " + cmd + " failed: " + e);
            return 1;
        }
    }

    static void usage(PrintStream out) {
        out.println("""
                usage: kvx <command> [options]

                commands:
                  doctor              JDK, native folder, loaded libraries, NIXL plugins and CUDA devices
                  demo [--size N] [--iterations K] [--memory dram|vram]
                                      two NIXL agents (UCX) in this process: WRITE N bytes with a
                                      notification, READ them back, verify checksums, print timings
                                      (defaults: --size 64MiB --iterations 5; sizes take KiB/MiB/GiB);
                                      --memory vram moves GPU 0 memory and compares with cudaMemcpy
                  soak [options]      the main job: a context and a generation worker as two processes over
                                      real NIXL, warm-up / burst / idle / recovery probes with faults,
                                      live progress and a report (kvx soak --help)
                  help                this text

                settings: -Dkvx.native.dir / KVX_NATIVE_DIR (native folder, default .native/),
                          -Dkvx.nixl.lib / KVX_NIXL_LIB (another libnixl_capi.so), NIXL_LOG_LEVEL""");
    }
}
