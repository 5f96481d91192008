package dev.kvx.cli;

import dev.kvx.KvxException;
import dev.kvx.cuda.Cuda;
import dev.kvx.cuda.CudaDevice;
import dev.kvx.cuda.CudaInfo;
import dev.kvx.internal.NativeLibraries;
import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.PluginInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvx doctor}: everything a user needs to see when something does not load. */
@Command(name = "doctor", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        usageHelpWidth = 110,
        description = {"Checks the installation: Java, native access, NIXL, its plugins, CUDA.",
            "Prints the JDK, whether native access is enabled, where each native library came from, the NIXL plugins that "
                + "load here, and the CUDA devices (or the runtime's reason why there are none). Exit status 1 on a problem."})
final class Doctor implements Callable<Integer> {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    Doctor() {}

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut());
    }

    static int run(PrintWriter out) {
        int problems = 0;
        Runtime.Version v = Runtime.version();
        out.println("kvx doctor");
        out.println("  java        " + v + " (" + System.getProperty("java.vendor") + ") at " + System.getProperty("java.home"));
        if (NativeLibraries.nativeAccessEnabled()) {
            out.println("  native access enabled (" + NativeLibraries.nativeAccessFlag() + ")");
        } else {
            out.println("  native access NOT enabled: the JVM warns at kvx's first native call and a later JDK will refuse it;"
                    + " start java with " + NativeLibraries.nativeAccessFlag()
                    + " (kvx on the module path: --enable-native-access=dev.kvx,dev.kvx.bindings;"
                    + " on the class path: --enable-native-access=ALL-UNNAMED; a runnable jar: Enable-Native-Access: ALL-UNNAMED"
                    + " in its manifest)");
        }
        out.println("  native dir  " + NativeLibraries.nativeDir() + (Files.isDirectory(NativeLibraries.nativeDir()) ? "" : " (absent)"));
        Path manifest = NativeLibraries.nativeDir().resolve("MANIFEST");
        if (Files.isRegularFile(manifest)) {
            try {
                Files.readAllLines(manifest).stream().filter(l -> l.startsWith("pins:"))
                        .forEach(l -> out.println("  " + l.replace("pins:", "pins       ").replace("; ", "\n              ")));
            } catch (IOException e) {
                out.println("  MANIFEST unreadable: " + e.getMessage());
            }
        } else {
            out.println("  MANIFEST    none (no provisioned native folder here; NIXL may come from pip or KVX_NIXL_LIB, see below)");
        }

        out.println("NIXL");
        try (NixlAgent agent = NixlAgent.create("kvx-doctor", AgentConfig.defaults().withProgressThread(false))) {
            List<String> plugins = agent.availablePlugins();
            out.println("  plugins found: " + String.join(", ", plugins));
            for (String p : plugins) {
                try {
                    PluginInfo info = agent.pluginInfo(p);
                    out.println("  " + pad(p, 12) + "loads; memory " + info.memoryKinds()
                            + (info.otherMemoryTypes().isEmpty() ? "" : " + types " + info.otherMemoryTypes())
                            + "; params " + info.parameters());
                } catch (KvxException e) {
                    out.println("  " + pad(p, 12) + "does not load here (its dependencies are missing, e.g. a GPU driver"
                            + " or a vendor library); kvx does not need it");
                }
            }
            try {
                agent.createBackend("UCX", java.util.Map.of());
                out.println("  UCX backend created: OK");
            } catch (KvxException e) {
                problems++;
                out.println("  UCX backend FAILED: " + e.getMessage());
            }
        } catch (KvxException e) {
            problems++;
            out.println("  NIXL not usable: " + e.getMessage());
        }
        for (NativeLibraries.LoadedLibrary lib : NativeLibraries.loaded()) {
            out.println("  loaded " + lib.name() + " from " + lib.path());
            out.println("    found through: " + lib.chosenBy());
        }

        out.println("CUDA");
        CudaInfo cuda = Cuda.probe();
        out.println("  runtime " + CudaInfo.versionString(cuda.runtimeVersion()) + ", driver "
                + CudaInfo.versionString(cuda.driverVersion()));
        if (cuda.available()) {
            for (CudaDevice d : cuda.devices()) {
                out.printf("  GPU %d: %s, %.1f GiB, sm_%d%d, %d SMs, PCI bus %d%n", d.ordinal(), d.name(),
                        d.totalMemory() / (1024.0 * 1024 * 1024), d.computeMajor(), d.computeMinor(), d.multiProcessors(), d.pciBusId());
            }
        } else {
            out.println("  " + cuda.reason());
            out.println("  (normal on a machine without a GPU: DRAM transfers work, VRAM paths report this)");
        }
        for (NativeLibraries.LoadedLibrary lib : NativeLibraries.loaded()) {
            if (lib.name().contains("cudart")) {
                out.println("  loaded " + lib.name() + " from " + lib.path() + " (" + lib.chosenBy() + ")");
            }
        }
        out.println(problems == 0 ? "doctor: OK" : "doctor: " + problems + " problem(s), see above");
        return problems == 0 ? 0 : 1;
    }

    private static String pad(String s, int n) {
        return s.length() >= n ? s + " " : s + " ".repeat(n - s.length());
    }
}
