package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution (target/kvx-&lt;version&gt;: bin/kvx + lib/) copied to a folder outside the checkout
 * runs on its own: --version, doctor with the natives named by KVX_NATIVE_DIR, doctor's error when no
 * natives are anywhere, and a short soak (the worker processes start from the distribution's jars). And
 * {@code java -jar target/kvx-cli.jar} runs without a native-access flag (its manifest grants it).
 */
class DistributionIT {
    @TempDir
    static Path away;
    static Path kvx;

    @BeforeAll
    static void copyTheDistributionAway() throws Exception {
        Path dist = Path.of(System.getProperty("kvx.dist"));
        assertTrue(Files.isExecutable(dist.resolve("bin/kvx")), "built by mvn package: " + dist);
        Path copy = away.resolve("kvx");
        try (Stream<Path> all = Files.walk(dist)) {
            for (Path p : all.toList()) {
                Path to = copy.resolve(dist.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        kvx = copy.resolve("bin/kvx");
    }

    private static ChildJvm.Result kvx(Map<String, String> env, String... args) throws Exception {
        Map<String, String> e = new HashMap<>();
        e.put("JAVA_HOME", System.getProperty("java.home"));
        e.put("KVX_NATIVE_DIR", null);
        e.put("NIXL_LOG_LEVEL", "ERROR");
        e.putAll(env);
        List<String> cmd = new java.util.ArrayList<>(List.of(kvx.toString()));
        cmd.addAll(List.of(args));
        return ChildJvm.exec(away, e, cmd);
    }

    @Test
    void versionAndDoctorRunFromACopyOutsideTheCheckout() throws Exception {
        ChildJvm.Result version = kvx(Map.of(), "--version");
        assertEquals(0, version.status(), version.err());
        assertTrue(version.out().startsWith("kvx "), version.out());
        ChildJvm.Result doctor = kvx(Map.of("KVX_NATIVE_DIR", System.getProperty("kvx.native.dir")), "doctor");
        assertEquals(0, doctor.status(), doctor.out() + doctor.err());
        assertTrue(doctor.out().contains("native access enabled"), doctor.out());
        assertTrue(doctor.out().contains("UCX backend created: OK"), doctor.out());
        assertTrue(doctor.out().contains("found through: native folder"), doctor.out());
        assertFalse(doctor.err().contains("WARNING: A restricted method"), doctor.err());
    }

    @Test
    void theRunnableJarEnablesNativeAccessThroughItsManifest() throws Exception {
        Path jar = Path.of(System.getProperty("kvx.jar"));
        try (java.util.jar.JarFile j = new java.util.jar.JarFile(jar.toFile())) {
            assertEquals("ALL-UNNAMED", j.getManifest().getMainAttributes().getValue("Enable-Native-Access"));
        }
        Map<String, String> env = new HashMap<>();
        env.put("KVX_NATIVE_DIR", System.getProperty("kvx.native.dir"));
        env.put("NIXL_LOG_LEVEL", "ERROR");
        ChildJvm.Result doctor = ChildJvm.exec(away, env, List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString(), "doctor"));
        assertEquals(0, doctor.status(), doctor.out() + doctor.err());
        assertTrue(doctor.out().contains("native access enabled (--enable-native-access=ALL-UNNAMED)"), doctor.out());
        assertFalse(doctor.err().contains("WARNING: A restricted method") || doctor.err().contains("native access is not enabled"),
                "java -jar needs no flag: " + doctor.err());
    }

    @Test
    void withNoNativesAnywhereDoctorSaysWhereItLookedAndWhatToInstall() throws Exception {
        ChildJvm.Result doctor = kvx(Map.of("KVX_PYTHON", away.resolve("no-python").toString()), "doctor");
        assertEquals(1, doctor.status(), doctor.out() + doctor.err());
        String out = doctor.out();
        assertTrue(out.contains("libnixl_capi.so (NIXL C API) not found. Looked at:"), out);
        assertTrue(out.contains("KVX_NIXL_LIB: not set") && out.contains("KVX_NATIVE_DIR: not set") && out.contains("no-python")
                && out.contains("no .native/ above the kvx jar " + away), out);
        assertTrue(out.contains("pip install nixl-cu13==1.5.1"), out);
    }

    @Test
    void aShortSoakRunsFromTheDistribution() throws Exception {
        Path report = away.resolve("soak-report");
        ChildJvm.Result soak = kvx(Map.of("KVX_NATIVE_DIR", System.getProperty("kvx.native.dir")), "soak", "--warmup=1", "--burst=2",
                "--idle=1", "--probes=2", "--faults=none", "--report=" + report);
        assertEquals(0, soak.status(), soak.out() + soak.err());
        assertTrue(soak.out().contains("soak: OK"), soak.out());
        assertTrue(Files.exists(report.resolve("report.json")) && Files.exists(report.resolve("report.html")), soak.out());
    }
}
