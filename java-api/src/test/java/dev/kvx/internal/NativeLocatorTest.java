package dev.kvx.internal;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The search order and the error that names every place looked, over a made-up environment (the real
 * pip-installed NIXL is loaded in cli's PipInstalledNixlTest).
 */
class NativeLocatorTest {
    private static NativeLocator locator(Map<String, String> props, Map<String, String> env, PythonPackages.Answer python, Path wd,
                                         Path jar) {
        Function<String, PythonPackages.Answer> py = cmd -> python;
        return new NativeLocator(new NativeLocator.Environment(props::get, env::get, py, wd, Optional.ofNullable(jar)));
    }

    private static PythonPackages.Answer noPython() {
        return new PythonPackages.Answer("python3", "", Map.of(), "cannot run: No such file or directory");
    }

    @Test
    void aPipInstalledNixlIsFoundNextToItsPackage(@TempDir Path dir) throws Exception {
        Path site = Files.createDirectories(dir.resolve("site-packages"));
        Path pkg = Files.createDirectories(site.resolve("nixl_cu13"));
        Path lib = Files.createDirectories(site.resolve(".nixl_cu13.mesonpy.libs")).resolve("libnixl_capi.so");
        Files.writeString(lib, "");
        PythonPackages.Answer py = new PythonPackages.Answer("python3", "/venv/bin/python3", Map.of("nixl_cu13", List.of(pkg)), "");
        NativeLocator.Search s = locator(Map.of(), Map.of(), py, dir, null).find(NativeLocator.NIXL);
        assertEquals(lib, s.found().orElseThrow().path());
        assertEquals("pip package nixl_cu13 of /venv/bin/python3", s.found().get().chosenBy());
    }

    @Test
    void anExplicitSettingWinsAndAMissingFileIsAnErrorNotAFallThrough(@TempDir Path dir) throws Exception {
        Path lib = dir.resolve("libnixl_capi.so");
        NativeLocator.Search missing = locator(Map.of(), Map.of("KVX_NIXL_LIB", lib.toString()), noPython(), dir, null).find(NativeLocator.NIXL);
        assertTrue(missing.found().isEmpty() && missing.explicit());
        assertTrue(missing.looked().getLast().contains("environment variable KVX_NIXL_LIB: " + lib + " does not exist"), missing.looked().toString());
        Files.writeString(lib, "");
        NativeLocator.Search there = locator(Map.of("kvx.nixl.lib", lib.toString()), Map.of(), noPython(), dir, null).find(NativeLocator.NIXL);
        assertEquals("system property kvx.nixl.lib", there.found().orElseThrow().chosenBy());
    }

    @Test
    void theCheckoutsNativeFolderComesAfterPip(@TempDir Path dir) throws Exception {
        Path lib = dir.resolve(".native").resolve(NativeLibraries.NIXL_RELATIVE);
        Files.createDirectories(lib.getParent());
        Files.writeString(lib, "");
        Path wd = Files.createDirectories(dir.resolve("sub/dir"));
        NativeLocator.Search s = locator(Map.of(), Map.of(), noPython(), wd, null).find(NativeLocator.NIXL);
        assertEquals(lib, s.found().orElseThrow().path());
        assertTrue(s.looked().contains("Python 'python3': cannot run: No such file or directory"), s.looked().toString());
    }

    @Test
    void nothingFoundListsEveryPlaceLooked(@TempDir Path dir) {
        PythonPackages.Answer bare = new PythonPackages.Answer("python3", "/usr/bin/python3", Map.of(), "");
        Path jar = dir.resolve("app/lib/kvx-api.jar");
        NativeLocator.Search s = locator(Map.of(), Map.of(), bare, dir, jar).find(NativeLocator.NIXL);
        assertTrue(s.found().isEmpty());
        String looked = String.join("\n", s.looked());
        assertTrue(looked.contains("kvx.nixl.lib / KVX_NIXL_LIB: not set"), looked);
        assertTrue(looked.contains("kvx.native.dir / KVX_NATIVE_DIR: not set"), looked);
        assertTrue(looked.contains("Python /usr/bin/python3: none of the pip packages [nixl_cu13, nixl_cu12, nixl] is installed"), looked);
        assertTrue(looked.contains("no .native/ in " + dir + " or its parents"), looked);
        assertTrue(looked.contains("no .native/ above the kvx jar " + jar), looked);
    }

    @Test
    void aNativeFolderWithoutTheLibraryIsNamedWithWhatItLacks(@TempDir Path dir) throws Exception {
        Path checkout = dir.resolve("checkout");
        Files.createDirectories(checkout.resolve(".native"));
        Path jar = checkout.resolve("cli/target/lib/kvx-api.jar");
        Path elsewhere = Files.createDirectories(dir.resolve("work"));
        NativeLocator.Search s = locator(Map.of(), Map.of(), noPython(), elsewhere, jar).find(NativeLocator.CUDART);
        assertTrue(s.found().isEmpty() || s.found().get().path().startsWith("/usr/local/cuda"), s.toString());
        String looked = String.join("\n", s.looked());
        assertTrue(looked.contains("the kvx jar's checkout's native folder " + checkout.resolve(".native") + ": no "
                + checkout.resolve(".native").resolve(NativeLibraries.CUDART_RELATIVE)), looked);
        assertFalse(looked.contains("no .native/ above the kvx jar"), "it found one, it only lacked the file: " + looked);
        if (s.found().isEmpty()) {
            assertTrue(looked.contains("no /usr/local/cuda/lib64/libcudart.so.13"), looked);
        }
    }
}
