package dev.kvx.nixl;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real etcd server for tests: on 127.0.0.1, free ports, data in a temp folder, removed on close.
 * The binary comes from {@code ci/provision-etcd.sh} (PATH, else Debian's etcd-server). Reads keys
 * through etcd's v3 JSON gateway ({@code /v3/kv/range}), the same v3 store NIXL writes over gRPC.
 */
public final class EtcdTestServer implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Pattern VALUE = Pattern.compile("\"value\":\"([A-Za-z0-9+/=]*)\"");
    private static final Pattern KEY = Pattern.compile("\"key\":\"([A-Za-z0-9+/=]*)\"");
    public final String endpoint;
    private final Path dir;
    private final Process process;

    private EtcdTestServer(String endpoint, Path dir, Process process) {
        this.endpoint = endpoint;
        this.dir = dir;
        this.process = process;
    }

    /**
     * The etcd binary, or empty with the reason (printed by the caller's skip) when it is missing and
     * the provisioning script could not install it.
     */
    public static Optional<String> binary(StringBuilder whyNot) throws IOException, InterruptedException {
        Path script = repoRoot().resolve("ci/provision-etcd.sh");
        Process p = new ProcessBuilder("bash", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            whyNot.append(script).append(" did not finish in 300 s");
            return Optional.empty();
        }
        if (p.exitValue() != 0 || out.isEmpty()) {
            whyNot.append("no etcd binary and ").append(script).append(" could not install one (exit ")
                    .append(p.exitValue()).append("; see its message above)");
            return Optional.empty();
        }
        return Optional.of(out);
    }

    public static EtcdTestServer start(String binary) throws IOException, InterruptedException {
        int client = freePort();
        int peer = freePort();
        Path dir = Files.createTempDirectory("kvx-etcd-test");
        String c = "http://127.0.0.1:" + client;
        String pu = "http://127.0.0.1:" + peer;
        Process p = new ProcessBuilder(binary, "--name", "kvx-test", "--data-dir", dir.resolve("data").toString(),
                "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", pu,
                "--initial-advertise-peer-urls", pu, "--initial-cluster", "kvx-test=" + pu)
                .redirectErrorStream(true).redirectOutput(dir.resolve("etcd.log").toFile()).start();
        EtcdTestServer s = new EtcdTestServer(c, dir, p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!s.healthy()) {
            if (!p.isAlive() || System.nanoTime() - deadline > 0) {
                String log = Files.readString(dir.resolve("etcd.log"));
                s.close();
                throw new IOException("etcd did not become healthy on " + c + " within 30 s; its log:\n" + log);
            }
            Thread.sleep(50);
        }
        return s;
    }

    boolean healthy() {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(endpoint + "/health"))
                    .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 && r.body().contains("\"true\"");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The value of {@code key}, or empty when it does not exist. */
    public Optional<byte[]> get(String key) throws IOException, InterruptedException {
        Matcher m = VALUE.matcher(range("{\"key\":\"" + b64(key) + "\"}"));
        return m.find() ? Optional.of(Base64.getDecoder().decode(m.group(1))) : Optional.empty();
    }

    /** Every key that starts with {@code prefix}, in order. */
    public List<String> keys(String prefix) throws IOException, InterruptedException {
        byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
        end[end.length - 1]++;
        String body = range("{\"key\":\"" + b64(prefix) + "\",\"range_end\":\""
                + Base64.getEncoder().encodeToString(end) + "\",\"keys_only\":true}");
        Matcher m = KEY.matcher(body);
        List<String> out = new ArrayList<>();
        while (m.find()) {
            out.add(new String(Base64.getDecoder().decode(m.group(1)), StandardCharsets.UTF_8));
        }
        return out;
    }

    /** Deletes every key that starts with {@code prefix} (what a wiped etcd looks like to its clients). */
    public void deletePrefix(String prefix) throws IOException, InterruptedException {
        byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
        end[end.length - 1]++;
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(endpoint + "/v3/kv/deleterange"))
                .timeout(Duration.ofSeconds(5)).POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"" + b64(prefix)
                        + "\",\"range_end\":\"" + Base64.getEncoder().encodeToString(end) + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("etcd deleterange answered " + r.statusCode() + ": " + r.body());
        }
    }

    private String range(String json) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(endpoint + "/v3/kv/range"))
                .timeout(Duration.ofSeconds(5)).POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("etcd range " + json + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("ci/provision-etcd.sh"))) {
                return p;
            }
        }
        throw new IllegalStateException("ci/provision-etcd.sh not found above " + Path.of("").toAbsolutePath());
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
