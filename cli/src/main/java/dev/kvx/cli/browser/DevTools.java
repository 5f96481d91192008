package dev.kvx.cli.browser;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One Chrome DevTools Protocol connection (JSON messages over a WebSocket): commands with replies,
 * and the events the browser sends, kept in arrival order. Sessions are flat ({@code sessionId} on
 * each message). Every wait has a deadline.
 */
public final class DevTools implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final WebSocket socket;
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final List<JsonNode> events = new ArrayList<>();

    private DevTools(WebSocket socket) {
        this.socket = socket;
    }

    /**
     * Connects to a DevTools WebSocket.
     *
     * @param uri the browser's {@code ws://127.0.0.1:port/devtools/browser/...} address
     * @param timeout how long the connection may take
     * @return the connection
     * @throws IOException when the browser does not answer in time
     */
    public static DevTools connect(URI uri, Duration timeout) throws IOException, InterruptedException {
        Receiver receiver = new Receiver();
        try {
            WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(timeout).buildAsync(uri, receiver)
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            DevTools dt = new DevTools(ws);
            receiver.owner = dt;
            return dt;
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("cannot open the DevTools connection " + uri + ": " + e, e);
        }
    }

    /** A new empty parameter object. */
    public static ObjectNode params() {
        return JSON.createObjectNode();
    }

    /**
     * Sends a command and waits for its reply.
     *
     * @param method e.g. {@code Page.navigate}
     * @param params its parameters
     * @param sessionId the target session, or null for the browser
     * @param timeout how long the reply may take
     * @return the reply's {@code result}
     * @throws IOException on an error reply or no reply in time
     */
    public JsonNode call(String method, ObjectNode params, String sessionId, Duration timeout) throws IOException, InterruptedException {
        long id = ids.incrementAndGet();
        ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
        msg.set("params", params == null ? params() : params);
        if (sessionId != null) {
            msg.put("sessionId", sessionId);
        }
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        try {
            synchronized (socket) {
                socket.sendText(JSON.writeValueAsString(msg), true).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
            JsonNode r = reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (r.has("error")) {
                throw new IOException(method + " failed: " + r.get("error"));
            }
            return r.path("result");
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException(method + ": no reply within " + timeout.toMillis() + " ms (" + e + ")", e);
        } finally {
            pending.remove(id);
        }
    }

    /**
     * Waits for an event.
     *
     * @param method e.g. {@code Page.loadEventFired}
     * @param sessionId the session it must come from, or null for any
     * @param timeout how long to wait
     * @return the event's {@code params}
     * @throws IOException when it does not come in time
     */
    public JsonNode await(String method, String sessionId, Duration timeout) throws IOException, InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        synchronized (events) {
            while (true) {
                for (JsonNode e : events) {
                    if (e.path("method").asText().equals(method) && (sessionId == null || sessionId.equals(e.path("sessionId").asText()))) {
                        return e.path("params");
                    }
                }
                long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                if (left <= 0) {
                    throw new IOException("no " + method + " event within " + timeout.toMillis() + " ms");
                }
                events.wait(left);
            }
        }
    }

    /**
     * The events received so far.
     *
     * @return a copy, in arrival order
     */
    public List<JsonNode> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    private void onMessage(String text) {
        JsonNode m;
        try {
            m = JSON.readTree(text);
        } catch (IOException e) {
            return; // not JSON: not the protocol
        }
        if (m.has("id")) {
            CompletableFuture<JsonNode> f = pending.get(m.get("id").asLong());
            if (f != null) {
                f.complete(m);
            }
        } else {
            synchronized (events) {
                events.add(m);
                events.notifyAll();
            }
        }
    }

    @Override
    public void close() {
        socket.abort();
    }

    /** Collects text frames into messages. */
    private static final class Receiver implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();
        volatile DevTools owner;

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String msg = partial.toString();
                partial.setLength(0);
                if (owner != null) {
                    owner.onMessage(msg);
                }
            }
            ws.request(1);
            return null;
        }
    }
}
