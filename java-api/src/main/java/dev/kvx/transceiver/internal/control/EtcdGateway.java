package dev.kvx.transceiver.internal.control;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.kvx.KvxException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/**
 * Reads keys from etcd through its v3 JSON gateway ({@code POST /v3/kv/range}), with a deadline on every
 * call. kvx reads peers' NIXL metadata this way instead of NIXL's own fetch, which in NIXL 1.5.1 wedges the
 * agent's metadata thread (and its close) for good when etcd is unreachable; NIXL still publishes and
 * withdraws (send_local_md / invalidate_local_md). Several endpoints are tried in turn. Plaintext HTTP,
 * like NIXL's own client: etcd belongs on a private network (README, "Across hosts").
 */
public final class EtcdGateway {
    private static final JsonFactory JSON = new JsonFactory();
    private final List<URI> endpoints;
    private final HttpClient http;

    /** @param endpoints {@code host:port} or {@code http://host:port}, comma-separated */
    public EtcdGateway(String endpoints) {
        List<URI> out = new ArrayList<>();
        for (String e : endpoints.split(",")) {
            String s = e.trim();
            if (s.isEmpty()) {
                continue;
            }
            if (s.startsWith("https://")) {
                throw new IllegalArgumentException("etcd endpoint '" + s + "': NIXL's etcd client has no TLS; use http:// on a private network");
            }
            out.add(URI.create((s.startsWith("http://") ? s : "http://" + s) + "/v3/kv/range"));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no etcd endpoint in '" + endpoints + "'");
        }
        this.endpoints = List.copyOf(out);
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    }

    /**
     * The value of {@code key}, or empty if etcd has no such key.
     *
     * @throws KvxException if no endpoint answered within the timeout (saying which and why)
     */
    public Optional<byte[]> get(String key, Duration timeout) {
        String body = "{\"key\":\"" + Base64.getEncoder().encodeToString(key.getBytes(StandardCharsets.UTF_8)) + "\"}";
        List<String> problems = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        for (URI uri : endpoints) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofNanos(left))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json").build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (r.statusCode() != 200) {
                    problems.add(uri.getAuthority() + ": HTTP " + r.statusCode());
                    continue;
                }
                return firstValue(r.body());
            } catch (IOException e) {
                problems.add(uri.getAuthority() + ": " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KvxException("interrupted while reading etcd key " + key, e);
            }
        }
        throw new KvxException("etcd did not answer for key " + key + " within " + timeout + ": " + String.join("; ", problems));
    }

    /** The base64 {@code value} of the first entry of {@code kvs} in a range response. */
    static Optional<byte[]> firstValue(byte[] json) throws IOException {
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("etcd answered something that is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if ("kvs".equals(field) && t == JsonToken.START_ARRAY) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String f = p.currentName();
                            p.nextToken();
                            if ("value".equals(f)) {
                                return Optional.of(Base64.getDecoder().decode(p.getText()));
                            }
                            p.skipChildren();
                        }
                    }
                    return Optional.empty();
                }
                p.skipChildren();
            }
            return Optional.empty();
        }
    }
}
