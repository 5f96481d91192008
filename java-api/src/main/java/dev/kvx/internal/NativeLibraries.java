package dev.kvx.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Finds and loads the native libraries kvx binds: {@code libnixl_capi.so} (NIXL's C API, which pulls
 * in libnixl, its plugins and the bundled UCX through the wheel's relative RPATHs) and
 * {@code libcudart.so.13}. The generated bindings resolve symbols through the loader lookup, so a
 * library must be loaded here before its first call.
 *
 * <p>Where they come from, first match wins:
 * <ol>
 *   <li>an explicit library file: system property {@code kvx.nixl.lib} / {@code kvx.cudart.lib}, or the
 *       environment variables {@code KVX_NIXL_LIB} / {@code KVX_CUDART_LIB} (another NIXL installation);</li>
 *   <li>the native folder: system property {@code kvx.native.dir}, environment {@code KVX_NATIVE_DIR},
 *       else the nearest {@code .native/} in the working directory or one of its parents
 *       (filled by {@code ci/provision-native.sh}).</li>
 * </ol>
 */
public final class NativeLibraries {
    private static final System.Logger LOG = System.getLogger(NativeLibraries.class.getName());
    /** The NIXL C API file inside the native folder, as laid out by the nixl-cu13 wheel. */
    public static final String NIXL_RELATIVE = "nixl/.nixl_cu13.mesonpy.libs/libnixl_capi.so";
    /** The CUDA runtime file inside the native folder. */
    public static final String CUDART_RELATIVE = "cuda/lib/libcudart.so.13";
    private static final String INSTALL_HINT =
            "Run 'ci/provision-native.sh' in the kvx checkout (the README's commands run it for you) to download "
                    + "nixl-cu13 1.5.1 and nvidia-cuda-runtime 13.0 into .native/, or point -Dkvx.native.dir / "
                    + "KVX_NATIVE_DIR at a folder laid out like it";

    /** One library kvx loaded, for {@code kvx doctor}. */
    public record LoadedLibrary(String name, Path path, String chosenBy) {}

    private static final List<LoadedLibrary> LOADED = new ArrayList<>();
    private static NativeLibraryException nixlFailure;
    private static boolean nixlLoaded;
    private static NativeLibraryException cudartFailure;
    private static boolean cudartLoaded;

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
            load("libnixl_capi.so (NIXL C API)", "kvx.nixl.lib", "KVX_NIXL_LIB", NIXL_RELATIVE);
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
            load("libcudart.so.13 (CUDA runtime)", "kvx.cudart.lib", "KVX_CUDART_LIB", CUDART_RELATIVE);
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

    private static void load(String what, String property, String envVar, String relative) {
        Map.Entry<Path, String> choice = choose(property, envVar, relative);
        Path path = choice.getKey();
        if (!Files.isRegularFile(path)) {
            throw new NativeLibraryException(what + " not found at " + path + " (chosen by " + choice.getValue()
                    + "). " + INSTALL_HINT + ".");
        }
        try {
            System.load(path.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException(what + " at " + path + " could not be loaded: " + e.getMessage()
                    + ". Run 'ldd " + path + "' to see which dependency is missing; " + INSTALL_HINT + ".", e);
        }
        LOADED.add(new LoadedLibrary(what, path, choice.getValue()));
        LOG.log(System.Logger.Level.DEBUG, "loaded {0} from {1} ({2})", what, path, choice.getValue());
    }

    private static Map.Entry<Path, String> choose(String property, String envVar, String relative) {
        String prop = System.getProperty(property);
        if (prop != null && !prop.isBlank()) {
            return Map.entry(Path.of(prop).toAbsolutePath(), "system property " + property);
        }
        String env = System.getenv(envVar);
        if (env != null && !env.isBlank()) {
            return Map.entry(Path.of(env).toAbsolutePath(), "environment variable " + envVar);
        }
        return Map.entry(nativeDir().resolve(relative), "native folder " + nativeDir());
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
