package dev.kvx.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Where a native library kvx loads can be, in order, first match wins:
 * <ol>
 *   <li>the library file named by a system property or environment variable ({@code kvx.nixl.lib} /
 *       {@code KVX_NIXL_LIB}, {@code kvx.cudart.lib} / {@code KVX_CUDART_LIB});</li>
 *   <li>a native folder named by {@code kvx.native.dir} / {@code KVX_NATIVE_DIR}, laid out like {@code .native/};</li>
 *   <li>the package pip installed into a Python ({@code kvx.python} / {@code KVX_PYTHON}, else
 *       {@code $VIRTUAL_ENV/bin/python3}, else {@code python3} on the {@code PATH}): {@code nixl-cu13},
 *       {@code nixl-cu12} or {@code nixl} for NIXL, {@code nvidia-cuda-runtime} (cu13) for the CUDA runtime;</li>
 *   <li>the nearest {@code .native/} of the working directory or its parents (a kvx checkout);</li>
 *   <li>the nearest {@code .native/} above the kvx jar (a checkout's build run from elsewhere);</li>
 *   <li>for the CUDA runtime, a CUDA toolkit's {@code /usr/local/cuda/lib64}.</li>
 * </ol>
 * An explicit setting (1, 2) that names a missing file is an error, not a reason to look further.
 */
final class NativeLocator {
    /** A library found, and the words that say how. */
    record Found(Path path, String chosenBy) {}

    /** One library's search: what was found, or every place looked and why it did not match. */
    record Search(Optional<Found> found, List<String> looked, boolean explicit) {}

    /** What kvx reads from its surroundings, replaceable in tests. */
    record Environment(Function<String, String> property, Function<String, String> env, Function<String, PythonPackages.Answer> python,
                       Path workingDir, Optional<Path> codeLocation) {
        static Environment current() {
            Optional<Path> code;
            try {
                code = Optional.of(Path.of(NativeLocator.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
            } catch (Exception e) {
                code = Optional.empty();
            }
            return new Environment(System::getProperty, System::getenv, PythonPackages::query, Path.of("").toAbsolutePath(), code);
        }
    }

    /** What one library is and where each installation keeps it. */
    record Spec(String what, String property, String envVar, String nativeRelative, List<String> pipPackages,
                Function<String, List<String>> pipRelative, List<Path> systemPaths) {}

    static final Spec NIXL = new Spec("libnixl_capi.so (NIXL C API)", "kvx.nixl.lib", "KVX_NIXL_LIB",
            NativeLibraries.NIXL_RELATIVE, List.of("nixl_cu13", "nixl_cu12", "nixl"),
            pkg -> List.of("../." + pkg + ".mesonpy.libs/libnixl_capi.so"), List.of());
    static final Spec CUDART = new Spec("libcudart.so.13 (CUDA runtime)", "kvx.cudart.lib", "KVX_CUDART_LIB",
            NativeLibraries.CUDART_RELATIVE, List.of("nvidia"), pkg -> List.of("cu13/lib/libcudart.so.13"),
            List.of(Path.of("/usr/local/cuda/lib64/libcudart.so.13")));

    private final Environment env;
    private List<PythonPackages.Answer> pythons;

    NativeLocator(Environment env) {
        this.env = env;
    }

    private static boolean set(String v) {
        return v != null && !v.isBlank();
    }

    Search find(Spec spec) {
        List<String> looked = new ArrayList<>();
        String prop = env.property().apply(spec.property());
        String var = env.env().apply(spec.envVar());
        if (set(prop) || set(var)) {
            String how = set(prop) ? "system property " + spec.property() : "environment variable " + spec.envVar();
            Path p = Path.of(set(prop) ? prop : var).toAbsolutePath();
            return explicit(p, how, looked);
        }
        looked.add(spec.property() + " / " + spec.envVar() + ": not set");
        String dirProp = env.property().apply("kvx.native.dir");
        String dirVar = env.env().apply("KVX_NATIVE_DIR");
        if (set(dirProp) || set(dirVar)) {
            Path dir = Path.of(set(dirProp) ? dirProp : dirVar).toAbsolutePath();
            String how = "native folder " + dir + " (" + (set(dirProp) ? "system property kvx.native.dir" : "environment variable KVX_NATIVE_DIR") + ")";
            return explicit(dir.resolve(spec.nativeRelative()), how, looked);
        }
        looked.add("kvx.native.dir / KVX_NATIVE_DIR: not set");
        for (PythonPackages.Answer a : pythons()) {
            if (!a.problem().isEmpty()) {
                looked.add("Python '" + a.python() + "': " + a.problem());
                continue;
            }
            boolean any = false;
            for (String pkg : spec.pipPackages()) {
                for (Path dir : a.packages().getOrDefault(pkg, List.of())) {
                    for (String rel : spec.pipRelative().apply(pkg)) {
                        any = true;
                        Path p = dir.resolve(rel).normalize();
                        if (Files.isRegularFile(p)) {
                            return found(p, "pip package " + pkg + " of " + a.executable(), looked);
                        }
                        looked.add("pip package " + pkg + " of " + a.executable() + ": no " + p);
                    }
                }
            }
            if (!any) {
                looked.add("Python " + a.executable() + ": none of the pip packages " + spec.pipPackages() + " is installed");
            }
        }
        for (Path p = env.workingDir(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(".native"))) {
                return fileIn(p.resolve(".native"), spec, "the working directory's", looked).orElseGet(() -> afterCheckout(spec, looked));
            }
        }
        looked.add("no .native/ in " + env.workingDir() + " or its parents");
        return afterCheckout(spec, looked);
    }

    private Search afterCheckout(Spec spec, List<String> looked) {
        if (env.codeLocation().isPresent()) {
            boolean seen = false;
            for (Path p = env.codeLocation().get().toAbsolutePath().getParent(); p != null && !seen; p = p.getParent()) {
                if (Files.isDirectory(p.resolve(".native"))) {
                    Optional<Search> s = fileIn(p.resolve(".native"), spec, "the kvx jar's checkout's", looked);
                    if (s.isPresent()) {
                        return s.get();
                    }
                    seen = true; // the nearest one only; fileIn said what it lacks
                }
            }
            if (!seen) {
                looked.add("no .native/ above the kvx jar " + env.codeLocation().get());
            }
        }
        for (Path p : spec.systemPaths()) {
            if (Files.isRegularFile(p)) {
                return found(p, "the system's " + p.getParent(), looked);
            }
            looked.add("no " + p);
        }
        return new Search(Optional.empty(), List.copyOf(looked), false);
    }

    private Optional<Search> fileIn(Path nativeDir, Spec spec, String whose, List<String> looked) {
        Path p = nativeDir.resolve(spec.nativeRelative());
        if (Files.isRegularFile(p)) {
            return Optional.of(found(p, whose + " native folder " + nativeDir, looked));
        }
        looked.add(whose + " native folder " + nativeDir + ": no " + p);
        return Optional.empty();
    }

    private static Search explicit(Path p, String how, List<String> looked) {
        if (Files.isRegularFile(p)) {
            return found(p, how, looked);
        }
        looked.add(how + ": " + p + " does not exist");
        return new Search(Optional.empty(), List.copyOf(looked), true);
    }

    private static Search found(Path p, String how, List<String> looked) {
        return new Search(Optional.of(new Found(p, how)), List.copyOf(looked), false);
    }

    /** The interpreters to ask, asked once per locator. */
    private List<PythonPackages.Answer> pythons() {
        if (pythons == null) {
            Set<String> cmds = new LinkedHashSet<>();
            String explicit = set(env.property().apply("kvx.python")) ? env.property().apply("kvx.python") : env.env().apply("KVX_PYTHON");
            if (set(explicit)) {
                cmds.add(explicit);
            } else {
                String venv = env.env().apply("VIRTUAL_ENV");
                if (set(venv)) {
                    cmds.add(Path.of(venv, "bin", "python3").toString());
                }
                cmds.add("python3");
            }
            pythons = cmds.stream().map(env.python()).toList();
        }
        return pythons;
    }
}
