package dev.kvx.nixl;

import dev.kvx.cuda.DeviceBuffer;
import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.NativeBuffer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One NIXL agent in its own JVM, driven line by line over stdin by {@link RevocationRig} (the
 * revocation experiments need writer and target in separate processes, with UCX's environment set
 * per process). Usage: {@code RevocationPeerMain <name> <bytes> <dram|vram:N> <ucxParams|->}.
 *
 * <p>It allocates one buffer, registers it, prints {@code @@ READY <address> <device>}, then answers each
 * command with one line {@code @@ OK ...} or {@code @@ ERR <rawStatus> <message>}, all on stderr; everything
 * else (UCX's log on stdout, NIXL's on stderr) is diagnostics. Commands: {@code MD}, {@code LOAD <base64>},
 * {@code FILL <byte>}, {@code WRITE <peer> <address> <device> <bytes> <timeoutMs>}, {@code POST <peer> <address>
 * <device> <bytes>}, {@code AWAIT <timeoutMs>}, {@code DEREG}, {@code INVALIDATE <peer>}, {@code NOTIFY <peer>},
 * {@code NOTIFY_UNTIL_FAIL <peer> <timeoutMs>}, {@code NOTIFS}, {@code CHECK}, {@code QUIT}.
 */
public final class RevocationPeerMain {
    static final String REPLY = "@@ ";
    private final NixlAgent agent;
    private final NativeBuffer buffer;
    private Registration registration;
    private Transfer posted;

    private RevocationPeerMain(NixlAgent agent, NativeBuffer buffer) {
        this.agent = agent;
        this.buffer = buffer;
        this.registration = agent.register(buffer);
    }

    /** Runs the peer until {@code QUIT} or end of input. */
    public static void main(String[] args) throws Exception {
        String name = args[0];
        long bytes = Long.parseLong(args[1]);
        String memory = args[2];
        Map<String, String> params = new TreeMap<>();
        if (!args[3].equals("-")) {
            for (String kv : args[3].split(",")) {
                int eq = kv.indexOf('=');
                params.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        NativeBuffer buf = memory.startsWith("vram:")
                ? DeviceBuffer.allocate(Integer.parseInt(memory.substring(5)), bytes, name + "-buf")
                : HostBuffer.allocate(bytes, name + "-buf");
        // The agent and buffer are left to process exit on purpose: a killed or abandoned peer must
        // not wait on in-flight transfers at close.
        NixlAgent agent = NixlAgent.createWithUcx(name, params);
        RevocationPeerMain peer = new RevocationPeerMain(agent, buf);
        System.err.println(REPLY + "READY " + buf.address() + " " + buf.deviceId());
        System.err.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            String[] w = line.trim().split(" ");
            if (w[0].equals("QUIT")) {
                System.err.println(REPLY + "OK bye");
                System.err.flush();
                break;
            }
            String reply;
            try {
                reply = "OK " + peer.execute(w);
            } catch (NixlException e) {
                reply = "ERR " + e.rawStatus() + " " + e.getMessage().replace('\n', ' ');
            } catch (RuntimeException e) {
                reply = "ERR x " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' ');
            }
            System.err.println(REPLY + reply);
            System.err.flush();
        }
        Runtime.getRuntime().halt(0); // skip close: see above
    }

    private String execute(String[] w) throws InterruptedException {
        switch (w[0]) {
            case "MD":
                return Base64.getEncoder().encodeToString(agent.localMetadata());
            case "LOAD":
                return agent.loadRemoteMetadata(Base64.getDecoder().decode(w[1]));
            case "FILL":
                fill((byte) Integer.parseInt(w[1], 16));
                return "filled";
            case "WRITE": {
                try (Transfer t = create(w[1], Long.parseLong(w[2]), Integer.parseInt(w[3]), Long.parseLong(w[4]))) {
                    long t0 = System.nanoTime();
                    t.post();
                    TransferState s = t.await(Duration.ofMillis(Long.parseLong(w[5])));
                    return s + " " + (System.nanoTime() - t0) / 1_000_000 + "ms";
                }
            }
            case "POST": {
                posted = create(w[1], Long.parseLong(w[2]), Integer.parseInt(w[3]), Long.parseLong(w[4]));
                return "POSTED " + posted.post();
            }
            case "AWAIT": {
                long t0 = System.nanoTime();
                TransferState s = posted.await(Duration.ofMillis(Long.parseLong(w[1])));
                return s + " " + (System.nanoTime() - t0) / 1_000_000 + "ms";
            }
            case "DEREG": {
                // With a value: sample the buffer for it just before and just after deregistering.
                String before = w.length > 1 ? sample((byte) Integer.parseInt(w[1], 16)) : "";
                long t0 = System.nanoTime();
                registration.close();
                long micros = (System.nanoTime() - t0) / 1000;
                String after = w.length > 1 ? sample((byte) Integer.parseInt(w[1], 16)) : "";
                return "deregistered in " + micros + "us" + (w.length > 1 ? " sampled before " + before + " after " + after : "");
            }
            case "INVALIDATE":
                agent.invalidateRemote(w[1]);
                return "invalidated";
            case "NOTIFY":
                agent.sendNotification(w[1], "ping".getBytes(StandardCharsets.UTF_8));
                return "sent";
            case "NOTIFY_UNTIL_FAIL":
                return notifyUntilFail(w[1], Long.parseLong(w[2]));
            case "NOTIFS":
                return String.valueOf(agent.pollNotifications().size());
            case "CHECK":
                return histogram();
            default:
                throw new IllegalArgumentException("unknown command " + w[0]);
        }
    }

    private Transfer create(String peer, long remoteAddress, int remoteDevice, long bytes) {
        MemoryDescriptor remote = new MemoryDescriptor(remoteAddress, bytes, remoteDevice);
        return agent.createTransfer(TransferOp.WRITE, buffer.kind(), List.of(buffer.descriptor(0, bytes)),
                buffer.kind(), List.of(remote), peer, null);
    }

    /** Sends a notification every 2 ms until NIXL refuses one (the peer's endpoint failed) or the deadline. */
    private String notifyUntilFail(String peer, long timeoutMs) throws InterruptedException {
        long t0 = System.nanoTime();
        long deadline = t0 + timeoutMs * 1_000_000;
        int sent = 0;
        while (System.nanoTime() - deadline < 0) {
            try {
                agent.sendNotification(peer, "ping".getBytes(StandardCharsets.UTF_8));
                agent.pollNotifications(); // drives progress, where UCX notices a failed endpoint
                sent++;
            } catch (NixlException e) {
                return "FAILED after " + (System.nanoTime() - t0) / 1_000_000 + "ms, " + sent + " sent before, status "
                        + e.rawStatus() + " " + e.call();
            }
            Thread.sleep(2);
        }
        return "NO_FAILURE within " + timeoutMs + "ms, " + sent + " sent";
    }

    private static final int CHUNK = 4 << 20;

    private void fill(byte value) {
        byte[] chunk = new byte[CHUNK];
        java.util.Arrays.fill(chunk, value);
        for (long off = 0; off < buffer.size(); off += CHUNK) {
            int n = (int) Math.min(CHUNK, buffer.size() - off);
            buffer.copyFromHost(off, n == CHUNK ? chunk : java.util.Arrays.copyOf(chunk, n));
        }
    }

    /** How many of {@link RevocationCases#SAMPLES} bytes spread evenly over the buffer hold {@code value}, e.g. {@code 1024/4096}. */
    private String sample(byte value) {
        int n = RevocationCases.SAMPLES;
        long stride = buffer.size() / n;
        byte[] one = new byte[1];
        int hits = 0;
        for (int i = 0; i < n; i++) {
            buffer.copyToHost(i * stride + stride - 1, one);
            hits += one[0] == value ? 1 : 0;
        }
        return hits + "/" + n;
    }

    /** How many bytes of each value the buffer holds, e.g. {@code 00=1024 33=3072}. */
    private String histogram() {
        long[] counts = new long[256];
        byte[] chunk = new byte[CHUNK];
        for (long off = 0; off < buffer.size(); off += CHUNK) {
            int n = (int) Math.min(CHUNK, buffer.size() - off);
            byte[] dst = n == CHUNK ? chunk : new byte[n];
            buffer.copyToHost(off, dst);
            for (byte b : dst) {
                counts[b & 0xff]++;
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int v = 0; v < 256; v++) {
            if (counts[v] > 0) {
                sb.append(sb.isEmpty() ? "" : " ").append(String.format("%02x=%d", v, counts[v]));
            }
        }
        return sb.toString();
    }
}
