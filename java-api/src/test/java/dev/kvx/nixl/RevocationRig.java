package dev.kvx.nixl;

import dev.kvx.internal.NativeLibraries;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A writer and a target, each a {@link RevocationPeerMain} in its own JVM with its own UCX
 * environment; the writer has loaded the target's metadata. Used by {@link RevocationTest} (DRAM) and
 * {@link RevocationVramMain} (VRAM on the GPU machine).
 */
final class RevocationRig implements AutoCloseable {
    /** One child JVM and its line protocol. */
    static final class Peer implements AutoCloseable {
        final String name;
        final Process process;
        private long address;
        private int device;
        private final Writer stdin;
        private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
        private final ConcurrentLinkedQueue<String> log = new ConcurrentLinkedQueue<>();

        Peer(String name, long bytes, String memory, String ucxParams, Map<String, String> env) throws IOException {
            this.name = name;
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-Dkvx.native.dir=" + NativeLibraries.nativeDir(),
                    "-cp", System.getProperty("java.class.path"), RevocationPeerMain.class.getName(),
                    name, String.valueOf(bytes), memory, ucxParams.isEmpty() ? "-" : ucxParams));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(env);
            process = pb.start();
            stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            // Replies come on stderr (with NIXL's whole-line logs); UCX logs through stdio on stdout,
            // whose buffer may split its lines anywhere, so it gets a stream of its own.
            daemon(process.getErrorStream(), true);
            daemon(process.getInputStream(), false);
        }

        /** Waits for the process to report its buffer (JVM start, UCX, registration: about a second). */
        Peer awaitReady() {
            String ready = next(30_000);
            if (!ready.startsWith("READY ")) {
                throw new IllegalStateException(name + " did not start: " + ready + "\n" + log());
            }
            String[] w = ready.split(" ");
            address = Long.parseLong(w[1]);
            device = Integer.parseInt(w[2]);
            return this;
        }

        private void daemon(java.io.InputStream stream, boolean withReplies) {
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        int at = withReplies ? line.indexOf(RevocationPeerMain.REPLY) : -1;
                        if (at >= 0) {
                            replies.add(line.substring(at + RevocationPeerMain.REPLY.length()));
                        } else {
                            log.add(line);
                        }
                    }
                } catch (IOException e) {
                    log.add("reader: " + e);
                }
                if (withReplies) {
                    replies.add("EOF");
                }
            }, "revocation-peer-" + name + (withReplies ? "-err" : "-out"));
            reader.setDaemon(true);
            reader.start();
        }

        private String next(long timeoutMs) {
            try {
                String r = replies.poll(timeoutMs, TimeUnit.MILLISECONDS);
                if (r == null) {
                    throw new IllegalStateException(name + ": no reply within " + timeoutMs + " ms\n" + log());
                }
                return r;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        /** Sends one command and returns the reply line ({@code OK ...}, {@code ERR ...} or {@code EOF}). */
        String call(String command, long timeoutMs) {
            try {
                stdin.write(command + "\n");
                stdin.flush();
            } catch (IOException e) {
                return "EOF " + e.getMessage();
            }
            return next(timeoutMs);
        }

        /** Like {@link #call} but demands {@code OK}; returns what follows it. */
        String ok(String command, long timeoutMs) {
            String r = call(command, timeoutMs);
            if (!r.startsWith("OK")) {
                throw new IllegalStateException(name + ": '" + abbreviate(command) + "' answered " + r + "\n" + log());
            }
            return r.substring(2).trim();
        }

        /** Everything the process printed besides replies (UCX and NIXL logs). */
        String log() {
            return String.join("\n", log);
        }

        /**
         * What UCX chose for this peer's connection to the other process (needs {@code UCX_LOG_LEVEL=info}
         * and {@code UCX_PROTO_INFO=y}): the lane summary, e.g. {@code rma_am(tcp/lo) am(tcp/lo cma/memory)},
         * then the protocol of {@code ucp_put*} (what a NIXL WRITE uses), e.g. {@code put 0..inf zero-copy cma/memory}.
         */
        List<String> lanes() {
            List<String> out = new ArrayList<>();
            boolean intraNode = false;
            String putTable = null; // "host->host" while inside an intra-node put table
            for (String l : log) {
                int i = l.indexOf("cfg#");
                if (i >= 0) {
                    intraNode = l.contains("intra-node cfg#");
                    if (intraNode && l.contains("UCX  INFO")) {
                        add(out, "lanes " + l.substring(l.indexOf(' ', i) + 1).trim().replaceAll("\\s+", " "));
                    }
                }
                Matcher put = PUT_TITLE.matcher(l);
                if (put.find()) {
                    putTable = intraNode ? put.group(1) + "->" + put.group(2) : null;
                } else if (l.contains("| active message") || l.contains("| remote memory read")) {
                    putTable = null;
                } else if (putTable != null) {
                    Matcher m = PUT_ROW.matcher(l);
                    if (m.find() && !m.group(1).equals("Range")) {
                        add(out, "put " + putTable + " " + m.group(1) + " " + m.group(2) + " " + m.group(3));
                    }
                }
            }
            return out;
        }

        private static void add(List<String> out, String line) {
            if (!out.contains(line)) {
                out.add(line);
            }
        }

        @Override
        public void close() {
            if (process.isAlive()) {
                try {
                    call("QUIT", 5_000);
                } catch (IllegalStateException e) {
                    // no answer: killed below
                }
                try {
                    if (!process.waitFor(5, TimeUnit.SECONDS)) {
                        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                    }
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static final Pattern PUT_ROW = Pattern.compile("\\|\\s*([^|]+?)\\s*\\|\\s*([^|]+?)\\s*\\|\\s*([^|]+?)\\s*\\|\\s*$");
    private static final Pattern PUT_TITLE = Pattern.compile("remote memory write by ucp_put\\* from (\\S+) memory to (\\S+)");
    private static final Pattern COUNT = Pattern.compile("(\\p{XDigit}{2})=(\\d+)");
    final Peer target;
    final Peer writer;

    /**
     * Starts both peers and has the writer load the target's metadata.
     *
     * @param memory {@code dram} or {@code vram:N} for both, or {@code <target's>,<writer's>} such as {@code vram:0,vram:1}
     * @param ucxParams NIXL UCX backend parameters ({@code k=v,k=v}), empty for the defaults
     * @param env UCX environment for both processes (e.g. {@code UCX_TLS})
     */
    RevocationRig(String tag, long bytes, String memory, String ucxParams, Map<String, String> env) throws IOException {
        String suffix = tag + "-" + ProcessHandle.current().pid();
        String[] memories = memory.split(",", 2); // "vram:0,vram:1": target on GPU 0, writer on GPU 1
        Peer t = new Peer("target-" + suffix, bytes, memories[0], ucxParams, env);
        Peer w = null;
        try {
            w = new Peer("writer-" + suffix, bytes, memories[memories.length - 1], ucxParams, env); // both JVMs start in parallel
            t.awaitReady();
            w.awaitReady();
            w.ok("LOAD " + t.ok("MD", 10_000), 10_000);
        } catch (IOException | RuntimeException e) {
            if (w != null) {
                w.close();
            }
            t.close();
            throw e;
        }
        target = t;
        writer = w;
    }

    /** The target also loads the writer's metadata (so that it can notify it or invalidate it). */
    void targetKnowsWriter() {
        target.ok("LOAD " + writer.ok("MD", 10_000), 10_000);
    }

    /** The number of bytes of value {@code hex} in the target's buffer. */
    long targetCount(String hex) {
        Matcher m = COUNT.matcher(target.ok("CHECK", 30_000));
        while (m.find()) {
            if (m.group(1).equalsIgnoreCase(hex)) {
                return Long.parseLong(m.group(2));
            }
        }
        return 0;
    }

    /** The writer's command to WRITE {@code bytes} from its buffer to the start of the target's. */
    String write(long bytes, long timeoutMs) {
        return "WRITE " + target.name + " " + target.address + " " + target.device + " " + bytes + " " + timeoutMs;
    }

    String post(long bytes) {
        return "POST " + target.name + " " + target.address + " " + target.device + " " + bytes;
    }

    static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    @Override
    public void close() {
        try {
            writer.close();
        } finally {
            target.close();
        }
    }
}
