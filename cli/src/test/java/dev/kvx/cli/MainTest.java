package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line end to end, in process, against the real NIXL library. */
class MainTest {
    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void doctorReportsNixlPluginsAndCuda() {
        Result r = run("doctor");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("plugins found:") && r.out().contains("UCX"), r.out());
        assertTrue(r.out().contains("UCX backend created: OK"), r.out());
        assertTrue(r.out().contains("libnixl_capi.so"), r.out());
        assertTrue(r.out().contains("CUDA") && (r.out().contains("GPU 0") || r.out().contains("no CUDA device")), r.out());
    }

    @Test
    void demoMovesAndVerifiesRealBytes() {
        Result r = run("demo", "--size", "1MiB", "--iterations=2");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("1 MiB per transfer"), r.out());
        assertTrue(r.out().contains("verified: CRC32C"), r.out());
        assertTrue(r.out().contains("demo: OK"), r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "doctor", "demo", "soak"})
    void everyCommandHasHelp(String command) {
        Result r = command.isEmpty() ? run("--help") : run(command, "--help");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("Usage: kvx" + (command.isEmpty() ? "" : " " + command)), r.out());
        assertTrue(r.out().contains("--version") && r.out().contains("--help"), r.out());
        Result viaHelp = command.isEmpty() ? run("help") : run("help", command);
        assertEquals(0, viaHelp.status(), viaHelp.err());
        assertEquals(r.out(), viaHelp.out(), "'kvx help <command>' prints the same as '--help'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"worker", "hostile"})
    void theHiddenCommandsHaveHelpAndVersionToo(String command) {
        Result r = run(command, "--help");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("Usage: kvx " + command), r.out());
        Result v = run(command, "--version");
        assertEquals(0, v.status(), v.err());
        assertEquals(run("--version").out(), v.out());
    }

    @Test
    void helpListsTheCommandsButNotTheHiddenWorker() {
        String help = run("--help").out();
        for (String c : new String[] {"doctor", "demo", "soak", "help"}) {
            assertTrue(help.contains("  " + c + " "), c + " in " + help);
        }
        assertFalse(help.contains("  worker "), help);
        assertTrue(run("worker", "--help").out().contains("--role"), "the worker still has its own help");
    }

    @Test
    void versionNamesTheProjectVersionAndTheNativePins() throws IOException {
        Result r = run("--version");
        assertEquals(0, r.status(), r.err());
        Matcher m = Pattern.compile("^kvx (\\S+)$", Pattern.MULTILINE).matcher(r.out());
        assertTrue(m.find(), r.out());
        String pom = Files.readString(Path.of("pom.xml"));
        assertTrue(pom.contains("<version>" + m.group(1) + "</version>"), "kvx --version prints the Maven project version: " + r.out());
        // the pins kvx --version names are the ones ci/provision-native.sh downloads
        String provision = Files.readString(Path.of("../ci/provision-native.sh"));
        Matcher nixl = Pattern.compile("NIXL (\\S+) ").matcher(r.out());
        assertTrue(nixl.find(), r.out());
        assertTrue(provision.contains("NIXL_VERSION=" + nixl.group(1) + "\n"), r.out());
        Matcher cudart = Pattern.compile("CUDA runtime (\\S+)").matcher(r.out());
        assertTrue(cudart.find(), r.out());
        assertTrue(provision.contains("CUDART_VERSION=" + cudart.group(1) + "\n"), r.out());
        assertEquals(r.out(), run("soak", "--version").out(), "every command answers --version");
    }

    @Test
    void badUsageGivesAClearErrorAndStatus2() {
        Result unknown = run("frobnicate");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("kvx: unknown command 'frobnicate' (commands: doctor, demo, soak, help)")
                && unknown.err().contains("Try 'kvx --help'"), unknown.err());
        Result misspelt = run("docter");
        assertEquals(2, misspelt.status());
        assertTrue(misspelt.err().contains("Did you mean") && misspelt.err().contains("doctor"), misspelt.err());
        Result badSize = run("demo", "--size", "lots");
        assertEquals(2, badSize.status());
        assertTrue(badSize.err().contains("cannot read size 'lots' (examples: 4096, 64KiB, 64MiB, 1GiB)"), badSize.err());
        assertTrue(badSize.err().contains("Try 'kvx demo --help'"), badSize.err());
        Result badNumber = run("demo", "--iterations=two");
        assertEquals(2, badNumber.status());
        assertTrue(badNumber.err().contains("--iterations") && badNumber.err().contains("'two' is not an int"), badNumber.err());
        Result zero = run("demo", "--iterations", "0");
        assertEquals(2, zero.status());
        assertTrue(zero.err().contains("--iterations must be >= 1, got 0"), zero.err());
        Result tooBig = run("demo", "--size=3GiB");
        assertEquals(2, tooBig.status());
        assertTrue(tooBig.err().contains("--size must be between 1 B and 2 GiB"), tooBig.err());
        Result badMemory = run("demo", "--memory", "tape");
        assertEquals(2, badMemory.status());
        assertTrue(badMemory.err().contains("expected one of [DRAM, VRAM]"), badMemory.err());
        Result unknownOption = run("doctor", "--verbose");
        assertEquals(2, unknownOption.status());
        assertTrue(unknownOption.err().contains("Unknown option: '--verbose'"), unknownOption.err());
        assertEquals(0, run().status(), "kvx alone prints the usage");
    }

    @Test
    void sizesParse() {
        assertEquals(64L << 20, SizeConverter.parse("64MiB"));
        assertEquals(64L << 20, SizeConverter.parse("64mib"));
        assertEquals(4096, SizeConverter.parse("4K"));
        assertEquals(4096, SizeConverter.parse("4096"));
        assertEquals(1L << 30, SizeConverter.parse("1GiB"));
        assertEquals("64 MiB", SizeConverter.human(64L << 20));
        assertThrows(picocli.CommandLine.TypeConversionException.class, () -> SizeConverter.parse("64 parsecs"));
        assertThrows(picocli.CommandLine.TypeConversionException.class, () -> SizeConverter.parse("99999999999999GiB"));
    }
}
