package dev.kvx.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The command line end to end, in process, against the real NIXL library. */
class MainTest {
    private record Result(int status, String out, String err) {}

    private static Result run(String... args) {
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
        Result r = run("demo", "--size", "1MiB", "--iterations", "2");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("verified: CRC32C"), r.out());
        assertTrue(r.out().contains("demo: OK"), r.out());
    }

    @Test
    void badArgumentsGiveAClearErrorAndStatus2() {
        Result unknown = run("frobnicate");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("unknown command 'frobnicate'"));
        Result badSize = run("demo", "--size", "lots");
        assertEquals(2, badSize.status());
        assertTrue(badSize.err().contains("cannot read size 'lots'"), badSize.err());
        assertEquals(0, run("help").status());
    }

    @Test
    void sizesParse() {
        assertEquals(64L << 20, Demo.parseSize("64MiB"));
        assertEquals(4096, Demo.parseSize("4K"));
        assertEquals(1L << 30, Demo.parseSize("1GiB"));
        assertEquals("64 MiB", Demo.human(64L << 20));
    }
}
