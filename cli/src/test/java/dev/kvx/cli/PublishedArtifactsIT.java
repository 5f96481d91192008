package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

/**
 * The library artifacts as the local repository holds them after {@code mvn install} (the reactor installs
 * the bom, bindings, api and micrometer before cli's integration tests run): each with its sources and
 * javadoc jars, a module descriptor that exports the public packages only, and a POM whose effective
 * model carries what a public repository asks for (license, developers, scm and url of the one repository).
 */
class PublishedArtifactsIT {
    private static final String HOME = "https://github.com/kvx-dev/kvx";
    private static final List<String> LIBRARIES = List.of("kvx-bindings", "kvx-api", "kvx-micrometer");

    @TempDir
    Path dir;

    private static Path artifact(String id, String suffix) {
        String v = System.getProperty("kvx.version");
        return Path.of(System.getProperty("kvx.m2"), "dev", "kvx", id, v, id + "-" + v + suffix);
    }

    private static ModuleDescriptor module(String id) {
        return ModuleFinder.of(artifact(id, ".jar")).findAll().iterator().next().descriptor();
    }

    private static Set<String> exports(ModuleDescriptor d, boolean qualified) {
        return d.exports().stream().filter(e -> e.isQualified() == qualified).map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet());
    }

    @Test
    void eachLibraryIsANamedModuleExportingOnlyItsPublicPackages() {
        ModuleDescriptor api = module("kvx-api");
        assertEquals("dev.kvx", api.name());
        assertFalse(api.isAutomatic());
        assertEquals(Set.of("dev.kvx", "dev.kvx.cuda", "dev.kvx.kv", "dev.kvx.memory", "dev.kvx.nixl", "dev.kvx.transceiver"),
                exports(api, false), "the public API; the wire format, the engine and native loading stay internal");
        assertEquals(Set.of(), exports(api, true));
        assertTrue(api.packages().contains("dev.kvx.transceiver.internal.wire") && api.packages().contains("dev.kvx.internal"));

        ModuleDescriptor bindings = module("kvx-bindings");
        assertEquals("dev.kvx.bindings", bindings.name());
        assertEquals(Set.of(), exports(bindings, false), "generated code is nobody's API");
        bindings.exports().forEach(e -> assertEquals(Set.of("dev.kvx"), e.targets(), e.toString()));

        ModuleDescriptor micrometer = module("kvx-micrometer");
        assertEquals("dev.kvx.micrometer", micrometer.name());
        assertEquals(Set.of("dev.kvx.micrometer"), exports(micrometer, false));
        assertTrue(micrometer.requires().stream().anyMatch(r -> r.name().equals("dev.kvx")
                && r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE)));
    }

    @Test
    void eachLibraryHasSourcesAndJavadocJars() throws IOException {
        for (String id : LIBRARIES) {
            try (JarFile sources = new JarFile(artifact(id, "-sources.jar").toFile());
                 JarFile javadoc = new JarFile(artifact(id, "-javadoc.jar").toFile())) {
                assertNotNull(sources.getEntry("module-info.java"), id + " sources");
                assertNotNull(javadoc.getEntry("index.html"), id + " javadoc");
            }
        }
        try (JarFile javadoc = new JarFile(artifact("kvx-api", "-javadoc.jar").toFile())) {
            String builder = new String(javadoc.getInputStream(javadoc.getEntry("dev.kvx/dev/kvx/transceiver/CacheTransceiver.Builder.html"))
                    .readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(builder.contains("class=\"snippet\"") || builder.contains("snippet-container"), "the {@snippet} example rendered");
        }
    }

    @Test
    void theEffectivePomsCarryPublishingMetadataAndTheBomPinsEveryArtifact() throws Exception {
        for (String id : LIBRARIES) {
            Path out = dir.resolve(id + "-effective.xml");
            Map<String, String> env = new HashMap<>();
            env.put("JAVA_HOME", System.getProperty("java.home"));
            ChildJvm.Result r = ChildJvm.exec(dir, env, List.of("mvn", "-B", "-q", "-ntp", "-Dmaven.repo.local=" + System.getProperty("kvx.m2"),
                    "-f", artifact(id, ".pom").toString(), "org.apache.maven.plugins:maven-help-plugin:3.5.2:effective-pom",
                    "-Doutput=" + out));
            assertEquals(0, r.status(), id + ": " + r.out() + r.err());
            Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(out.toFile());
            var xp = XPathFactory.newInstance().newXPath();
            assertEquals(HOME, xp.evaluate("/project/url", pom), id + ": the repository, not " + HOME + "/" + id);
            assertEquals("scm:git:" + HOME + ".git", xp.evaluate("/project/scm/connection", pom), id);
            assertEquals("scm:git:" + HOME + ".git", xp.evaluate("/project/scm/developerConnection", pom), id);
            assertEquals(HOME, xp.evaluate("/project/scm/url", pom), id);
            assertEquals("Apache-2.0", xp.evaluate("/project/licenses/license/name", pom), id);
            assertFalse(xp.evaluate("/project/developers/developer/name", pom).isBlank(), id);
            assertFalse(xp.evaluate("/project/name", pom).isBlank() || xp.evaluate("/project/description", pom).isBlank(), id);
        }
        Document bom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(artifact("kvx-bom", ".pom").toFile());
        NodeList ids = (NodeList) XPathFactory.newInstance().newXPath()
                .evaluate("/project/dependencyManagement/dependencies/dependency/artifactId", bom, XPathConstants.NODESET);
        Set<String> pinned = new java.util.HashSet<>();
        for (int i = 0; i < ids.getLength(); i++) {
            pinned.add(ids.item(i).getTextContent());
        }
        assertEquals(Set.of("kvx-api", "kvx-bindings", "kvx-micrometer", "kvx-cli"), pinned);
        assertTrue(Files.readString(artifact("kvx-bom", ".pom")).contains("<licenses>"), "the BOM is publishable too");
    }
}
