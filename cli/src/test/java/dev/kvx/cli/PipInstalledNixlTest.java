package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A serving container's NIXL: {@code pip install --no-deps nixl-cu13==1.5.1} into a throwaway venv, then
 * kvx in a fresh JVM, with no native folder set, finds and uses it through that Python ({@code KVX_PYTHON}).
 * Also: kvx doctor without {@code --enable-native-access} names the flag.
 */
class PipInstalledNixlTest {
    @TempDir
    static Path dir;
    static Path python;

    @BeforeAll
    static void venvWithNixl() throws Exception {
        Path venv = dir.resolve("venv");
        ChildJvm.Result made = ChildJvm.exec(dir, Map.of(), List.of("python3", "-m", "venv", venv.toString()));
        assertEquals(0, made.status(), "python3 -m venv: " + made.out() + made.err());
        python = venv.resolve("bin/python3");
        ChildJvm.Result pip = ChildJvm.exec(dir, Map.of(), List.of(python.toString(), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                "--no-deps", "nixl-cu13==1.5.1"));
        assertEquals(0, pip.status(), "pip install nixl-cu13: " + pip.out() + pip.err());
    }

    private static ChildJvm.Result kvx(Map<String, String> extraEnv, List<String> jvmArgs, String... args) throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("KVX_NATIVE_DIR", null);
        env.put("KVX_NIXL_LIB", null);
        env.put("NIXL_LOG_LEVEL", "ERROR");
        env.putAll(extraEnv);
        String[] all = new String[args.length + 1];
        all[0] = Main.class.getName();
        System.arraycopy(args, 0, all, 1, args.length);
        return ChildJvm.run(dir, env, jvmArgs, all); // working directory outside any checkout: no .native/ there
    }

    @Test
    void doctorAndDemoUseThePipInstalledNixl() throws Exception {
        Map<String, String> env = Map.of("KVX_PYTHON", python.toString());
        List<String> jvm = List.of("--enable-native-access=ALL-UNNAMED");
        ChildJvm.Result doctor = kvx(env, jvm, "doctor");
        assertEquals(0, doctor.status(), doctor.out() + doctor.err());
        assertTrue(doctor.out().contains("found through: pip package nixl_cu13 of "), doctor.out());
        assertTrue(doctor.out().contains(dir.resolve("venv").toString()) && doctor.out().contains(".nixl_cu13.mesonpy.libs/libnixl_capi.so"),
                doctor.out());
        assertTrue(doctor.out().contains("UCX backend created: OK"), doctor.out());
        assertTrue(doctor.out().contains("native access enabled (--enable-native-access=ALL-UNNAMED)"), doctor.out());
        ChildJvm.Result demo = kvx(env, jvm, "demo", "--size=1MiB", "--iterations=1");
        assertEquals(0, demo.status(), demo.out() + demo.err());
        assertTrue(demo.out().contains("verified: CRC32C"), demo.out());
    }

    @Test
    void withoutNativeAccessDoctorNamesTheFlag() throws Exception {
        ChildJvm.Result doctor = kvx(Map.of("KVX_PYTHON", python.toString()), List.of(), "doctor");
        assertTrue(doctor.out().contains("native access NOT enabled") && doctor.out().contains("start java with --enable-native-access=ALL-UNNAMED"),
                doctor.out());
    }

    @Test
    void aPythonWithoutNixlGivesAnErrorThatNamesEveryPlace() throws Exception {
        ChildJvm.Result doctor = kvx(Map.of("KVX_PYTHON", dir.resolve("no-such-python").toString()), List.of("--enable-native-access=ALL-UNNAMED",
                "-Dkvx.nixl.lib=" + dir.resolve("none/libnixl_capi.so")), "doctor");
        assertEquals(1, doctor.status(), doctor.out() + doctor.err());
        assertTrue(doctor.out().contains("libnixl_capi.so (NIXL C API) is not where a setting says"), doctor.out());
        assertTrue(doctor.out().contains("pip install nixl-cu13==1.5.1"), doctor.out());
    }
}
