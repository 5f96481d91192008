package dev.kvx.internal;

import dev.kvx.NativeLibraryException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds and loads the native libraries kvx binds: {@code libnixl_capi.so} (NIXL's C API, which pulls
 * in libnixl, its plugins and the bundled UCX through the wheel's relative RPATHs) and
 * {@code libcudart.so.13}. The generated bindings resolve symbols through the loader lookup, so a
 * library must be loaded here before its first call.
 *
 * <p>Where they come from, first match wins: an explicit file ({@code kvx.nixl.lib} / {@code KVX_NIXL_LIB},
 * {@code kvx.cudart.lib} / {@code KVX_CUDART_LIB}), an explicit native folder ({@code kvx.native.dir} /
 * {@code KVX_NATIVE_DIR}), the pip package of a Python ({@code nixl-cu13}, {@code nixl-cu12};
 * {@code nvidia-cuda-runtime}), the checkout's {@code .native/} (filled by {@code ci/provision-native.sh}).
 * The error when none has it names every place looked and what to install.
 */
public final class NativeLibraries {
    private static final System.Logger LOG = System.getLogger(NativeLibraries.class.getName());
    /** The NIXL C API file inside the native folder, as laid out by the nixl-cu13 wheel. */
    public static final String NIXL_RELATIVE = "nixl/.nixl_cu13.mesonpy.libs/libnixl_capi.so";
    /** The CUDA runtime file inside the native folder. */
    public static final String CUDART_RELATIVE = "cuda/lib/libcudart.so.13";
    private static final String NIXL_HINT = "Install it in one of these ways: 'pip install nixl-cu13==1.5.1' (or nixl-cu12) into the "
            + "Python kvx asks (KVX_PYTHON, else the active virtualenv, else python3 on the PATH); or set KVX_NIXL_LIB to a "
            + "libnixl_capi.so of NIXL >= 1.0; or, in a kvx checkout, run ci/provision-native.sh (the README's commands run it for you)";
    private static final String CUDART_HINT = "Install it in one of these ways: 'pip install nvidia-cuda-runtime==13.0.96' into the "
            + "Python kvx asks (KVX_PYTHON, else the active virtualenv, else python3 on the PATH); or set KVX_CUDART_LIB to a "
            + "libcudart.so.13; or, in a kvx checkout, run ci/provision-native.sh";
    private static NativeLocator locator;

    /** One library kvx loaded, for {@code kvx doctor}. */
    public record LoadedLibrary(String name, Path path, String chosenBy) {}

    private static final List<LoadedLibrary> LOADED = new ArrayList<>();
    private static NativeLibraryException nixlFailure;
    private static boolean nixlLoaded;
    private static NativeLibraryException cudartFailure;
    private static boolean cudartLoaded;
    private static final java.util.concurrent.atomic.AtomicBoolean NATIVE_ACCESS_CHECKED = new java.util.concurrent.atomic.AtomicBoolean();

    private NativeLibraries() {}

    /** The native folder kvx reads by default (it may not exist). */
    public static Path nativeDir() {
        String prop = System.getProperty("kvx.native.dir");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop).toAbsolutePath();
        }
        String env = System.getenv("KVX_NATIVE_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath();
        }
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(".native"))) {
                return p.resolve(".native");
            }
        }
        return dir.resolve(".native");
    }

    /** Loads NIXL's C API once; later calls return at once or rethrow the first failure. */
    public static synchronized void loadNixl() {
        if (nixlLoaded) {
            return;
        }
        if (nixlFailure != null) {
            throw nixlFailure;
        }
        try {
            // NIXL reads NIXL_LOG_LEVEL in a library constructor, i.e. at load time.
            try {
                NixlLogLevel.apply().ifPresent(l -> LOG.log(System.Logger.Level.DEBUG, "NIXL_LOG_LEVEL={0} (kvx.nixl.logLevel)", l));
            } catch (IllegalArgumentException e) {
                throw new NativeLibraryException(e.getMessage());
            }
            load(NativeLocator.NIXL, NIXL_HINT);
            nixlLoaded = true;
        } catch (NativeLibraryException e) {
            nixlFailure = e;
            throw e;
        }
    }

    /** Loads the CUDA runtime once; later calls return at once or rethrow the first failure. */
    public static synchronized void loadCudart() {
        if (cudartLoaded) {
            return;
        }
        if (cudartFailure != null) {
            throw cudartFailure;
        }
        try {
            load(NativeLocator.CUDART, CUDART_HINT);
            cudartLoaded = true;
        } catch (NativeLibraryException e) {
            cudartFailure = e;
            throw e;
        }
    }

    /** The libraries loaded so far, with the setting that chose each. */
    public static synchronized List<LoadedLibrary> loaded() {
        return List.copyOf(LOADED);
    }

    private static void load(NativeLocator.Spec spec, String hint) {
        warnIfNativeAccessOff();
        if (locator == null) {
            locator = new NativeLocator(NativeLocator.Environment.current());
        }
        NativeLocator.Search search = locator.find(spec);
        if (search.found().isEmpty()) {
            throw new NativeLibraryException(spec.what() + (search.explicit() ? " is not where a setting says" : " not found")
                    + ". Looked at:\n  - " + String.join("\n  - ", search.looked()) + "\n" + hint + ".");
        }
        Path path = search.found().get().path();
        String chosenBy = search.found().get().chosenBy();
        try {
            System.load(path.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException(spec.what() + " at " + path + " (" + chosenBy + ") could not be loaded: " + e.getMessage()
                    + ". Run 'ldd " + path + "' to see which dependency is missing. " + hint + ".", e);
        }
        LOADED.add(new LoadedLibrary(spec.what(), path, chosenBy));
        LOG.log(System.Logger.Level.DEBUG, "loaded {0} from {1} ({2})", spec.what(), path, chosenBy);
    }

    /**
     * Whether every module of kvx that calls native code may do so without warnings
     * ({@code --enable-native-access}): {@code dev.kvx} and {@code dev.kvx.bindings} on the module path,
     * the unnamed module on the class path.
     *
     * @return true when native access is enabled for all of them
     */
    public static boolean nativeAccessEnabled() {
        return nativeModules().stream().allMatch(Module::isNativeAccessEnabled);
    }

    /**
     * The exact JVM flag that enables native access for kvx as it is loaded now.
     *
     * @return {@code --enable-native-access=dev.kvx,dev.kvx.bindings} on the module path,
     *         {@code --enable-native-access=ALL-UNNAMED} on the class path
     */
    public static String nativeAccessFlag() {
        return "--enable-native-access=" + String.join(",", nativeModules().stream()
                .map(m -> m.isNamed() ? m.getName() : "ALL-UNNAMED").distinct().toList());
    }

    /** The modules whose code calls restricted FFM methods: kvx's own and the generated bindings'. */
    private static List<Module> nativeModules() {
        Module api = NativeLibraries.class.getModule();
        Module bindings = dev.kvx.internal.gen.nixl.NixlCapi.class.getModule();
        return api.equals(bindings) ? List.of(api) : List.of(api, bindings);
    }

    /**
     * Logs once, at WARNING, when native access is off, with the exact flag: the JVM's own warning names
     * only the first module that called, and a later JDK refuses the call instead of warning.
     */
    static void warnIfNativeAccessOff() { // not synchronized: called from Libc's class initializer
        if (NATIVE_ACCESS_CHECKED.compareAndSet(false, true) && !nativeAccessEnabled()) {
            LOG.log(System.Logger.Level.WARNING, "native access is not enabled for kvx; start java with {0} (the JVM "
                    + "warns at kvx''s first native call, and a later JDK will refuse it)", nativeAccessFlag());
        }
    }

    /** Reads a NUL-terminated string NIXL or CUDA returned; an empty string for NULL. */
    public static String string(MemorySegment cString) {
        if (cString == null || cString.equals(MemorySegment.NULL)) {
            return "";
        }
        return cString.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** Allocates a C string in the given arena. */
    public static MemorySegment cString(Arena arena, String s) {
        return arena.allocateFrom(s);
    }
}
