package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kvx as a serving team consumes it: the project in {@code consumer/} sits outside the reactor, imports
 * {@code kvx-bom}, depends on the installed {@code kvx-api} and {@code kvx-micrometer}, is a named module
 * ({@code requires dev.kvx; requires dev.kvx.micrometer}), and runs under JPMS with native access granted by
 * module name, finding NIXL in a pip-installed {@code nixl-cu13} (a throwaway venv) — no native folder, no
 * checkout in its working directory. It moves a request between two transceivers over real NIXL, verifies
 * every byte and reads the outcome from a Micrometer registry. Run again without the flag, kvx names the
 * exact flag for both of its modules.
 */
class ConsumerProjectIT {
    @TempDir
    Path dir;

    @Test
    void aConsumerProjectBuildsAgainstTheInstalledArtifactsAndMovesARequestUnderJpmsWithPipInstalledNixl() throws Exception {
        Path consumer = Path.of(System.getProperty("kvx.consumer")).toAbsolutePath();
        String repo = System.getProperty("kvx.m2");
        Path venv = dir.resolve("venv");
        ChildJvm.Result made = ChildJvm.exec(dir, Map.of(), List.of("python3", "-m", "venv", venv.toString()));
        assertEquals(0, made.status(), "python3 -m venv: " + made.out() + made.err());
        Path python = venv.resolve("bin/python3");
        ChildJvm.Result pip = ChildJvm.exec(dir, Map.of(), List.of(python.toString(), "-m", "pip", "install", "-q",
                "--disable-pip-version-check", "--no-deps", "nixl-cu13==1.5.1"));
        assertEquals(0, pip.status(), "pip install nixl-cu13: " + pip.out() + pip.err());

        Map<String, String> mvnEnv = new HashMap<>();
        mvnEnv.put("JAVA_HOME", System.getProperty("java.home"));
        ChildJvm.Result build = ChildJvm.exec(consumer, mvnEnv, List.of("mvn", "-B", "-q", "-ntp", "-f", consumer.resolve("pom.xml").toString(),
                "-Dmaven.repo.local=" + repo, "clean", "package"));
        assertEquals(0, build.status(), "building the consumer project: " + build.out() + build.err());
        Path classes = consumer.resolve("target/classes");
        Path lib = consumer.resolve("target/lib");
        assertTrue(Files.exists(classes.resolve("module-info.class")), "the consumer is a named module");
        try (var jars = Files.list(lib)) {
            assertTrue(jars.anyMatch(j -> j.getFileName().toString().startsWith("kvx-api-")), "kvx-api from the local repository");
        }

        Map<String, String> env = new HashMap<>();
        env.put("KVX_NATIVE_DIR", null);
        env.put("KVX_NIXL_LIB", null);
        env.put("KVX_PYTHON", python.toString());
        env.put("NIXL_LOG_LEVEL", "ERROR");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String modulePath = classes + File.pathSeparator + lib;
        ChildJvm.Result run = ChildJvm.exec(dir, env, List.of(java, "--enable-native-access=dev.kvx,dev.kvx.bindings", "-p", modulePath,
                "-m", "dev.kvx.example/dev.kvx.example.ConsumerMain"));
        assertEquals(0, run.status(), "consumer run: " + run.out() + run.err());
        assertTrue(run.out().contains("consumer: OK, module dev.kvx moved 8 blocks"), run.out());
        assertTrue(run.out().contains("Micrometer (module dev.kvx.micrometer) counted it"), run.out());
        assertFalse(run.err().contains("WARNING: A restricted method"), "native access granted by module name: " + run.err());
        assertFalse(run.err().contains("native access is not enabled"), run.err());

        ChildJvm.Result noFlag = ChildJvm.exec(dir, env, List.of(java, "-p", modulePath, "-m", "dev.kvx.example/dev.kvx.example.ConsumerMain"));
        assertEquals(0, noFlag.status(), "without the flag the JDK only warns: " + noFlag.out() + noFlag.err());
        assertTrue(noFlag.err().contains("native access is not enabled for kvx; start java with --enable-native-access=dev.kvx,dev.kvx.bindings"),
                "kvx names the flag for both modules: " + noFlag.err());
    }
}
