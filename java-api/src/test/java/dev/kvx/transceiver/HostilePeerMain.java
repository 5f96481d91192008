package dev.kvx.transceiver;

import dev.kvx.kv.KvBlockPool;
import dev.kvx.nixl.AgentConfig;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.transceiver.internal.control.ControlClient;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The hostile process of {@link HostilePeerTest}: a JVM of its own, driven over stdin/stdout, one command
 * per line, answered by one line starting with {@code OK} or {@code ERR}. It plays two kinds of attacker:
 * <ul>
 * <li><b>hand-made NIXL agents</b> with any name (the victims' own names included: NIXL's UCX backend
 *     puts the sender's <i>claimed</i> name into each notification), which load a victim's metadata
 *     from a file — as if it had leaked, the strongest attacker there is, since without it UCX cannot
 *     reach the victim's agent at all — and send it whatever bytes the test gives;</li>
 * <li><b>a peer that holds the secret</b>: a real {@link CacheTransceiver} that connects through a
 *     victim's control channel under its own name and then says things it should not
 *     ({@link CacheTransceiver#sendRawForTest}: a peer running modified code).</li>
 * </ul>
 * Commands ({@code <a>}: an alias the test picks):
 * <pre>
 * AGENT a name             a NIXL agent (UCX) named name
 * AGENT_LONG a bytes       a NIXL agent whose name is that many bytes long
 * LOAD a mdFile            loads the metadata in the file           → OK remoteName
 * SEND a to hex [count]    sends the bytes (count times)
 * BIG a to bytes           sends one notification of that size, starting "KVX"
 * FETCH ms name,… host:port,…   NIXL's socket metadata fetch, from an agent with a listener → OK none | OK got name
 * CONTROL host port secretFile   kvx's control channel, honestly, with that secret → OK refused msg | OK metadata n
 * ADMIT host port secretFile count prefix   that many agents prefix-i get their metadata admitted through the
 *                          control channel (with the secret) and never connect → OK admitted count
 * PEER a name secretFile poolBlocks   a transceiver with the secret (same KV layout as the victims)
 * CONNECT a host port      it connects through a victim's control channel → OK peerName
 * ABORT a to id epoch fromMover | DONE a to id epoch | RELEASED a to id epoch | ANNOUNCE a to id epoch block…
 * FLOOD a to count blocksEach idBase   announcements for unknown ids, each of blocksEach blocks
 * QUIT
 * </pre>
 */
public final class HostilePeerMain {
    private final Map<String, NixlAgent> agents = new HashMap<>();
    private final Map<String, CacheTransceiver> peers = new HashMap<>();
    private final Map<String, KvBlockPool> pools = new HashMap<>();

    private HostilePeerMain() {}

    /** Runs the command loop until QUIT or end of input. */
    public static void main(String[] args) throws Exception {
        HostilePeerMain m = new HostilePeerMain();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("READY " + ProcessHandle.current().pid());
        String line;
        try {
            while ((line = in.readLine()) != null) {
                String[] f = line.trim().split(" ");
                if (f[0].equals("QUIT")) {
                    break;
                }
                String answer;
                try {
                    answer = "OK " + m.run(f);
                } catch (Throwable t) {
                    answer = "ERR " + t.toString().replace('\n', ' ');
                }
                System.out.println(answer);
            }
        } finally {
            m.close();
        }
        System.out.println("BYE");
    }

    private String run(String[] f) throws Exception {
        return switch (f[0]) {
            case "AGENT" -> {
                agents.put(f[1], NixlAgent.createWithUcx(f[2]));
                yield f[2];
            }
            case "AGENT_LONG" -> {
                String name = "x".repeat(Integer.parseInt(f[2]));
                agents.put(f[1], NixlAgent.createWithUcx(name));
                yield name.length() + " B name";
            }
            case "LOAD" -> agents.get(f[1]).loadRemoteMetadata(Files.readAllBytes(Path.of(f[2])));
            case "SEND" -> {
                byte[] bytes = HexFormat.of().parseHex(f[3]);
                int count = f.length > 4 ? Integer.parseInt(f[4]) : 1;
                for (int i = 0; i < count; i++) {
                    agents.get(f[1]).sendNotification(f[2], bytes);
                }
                yield "sent " + count;
            }
            case "BIG" -> {
                byte[] big = new byte[Integer.parseInt(f[3])];
                big[0] = 'K';
                big[1] = 'V';
                big[2] = 'X';
                big[3] = 2;
                agents.get(f[1]).sendNotification(f[2], big);
                yield "sent " + big.length;
            }
            case "FETCH" -> fetch(f[3].split(","), Long.parseLong(f[1]), f[2].split(","));
            case "CONTROL" -> control(f[1], Integer.parseInt(f[2]), Path.of(f[3]));
            case "ADMIT" -> admit(f[1], Integer.parseInt(f[2]), Path.of(f[3]), Integer.parseInt(f[4]), f[5]);
            case "PEER" -> {
                KvBlockPool pool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, Integer.parseInt(f[4]), f[2] + "-pool");
                pools.put(f[1], pool);
                peers.put(f[1], CacheTransceiver.builder(f[2], pool).secret(SharedSecret.fromFile(Path.of(f[3])))
                        .config(CacheTransceiverConfig.defaults().withKvTransferTimeout(Duration.ofSeconds(60))).build());
                yield f[2];
            }
            case "CONNECT" -> peers.get(f[1]).connect(new InetSocketAddress(f[2], Integer.parseInt(f[3])), Duration.ofSeconds(20));
            case "ABORT" -> say(f, new WireMessage.Abort(Long.parseLong(f[3]), Integer.parseInt(f[4]), 2, Boolean.parseBoolean(f[5])));
            case "DONE" -> say(f, new WireMessage.Done(Long.parseLong(f[3]), Integer.parseInt(f[4])));
            case "RELEASED" -> say(f, new WireMessage.Released(Long.parseLong(f[3]), Integer.parseInt(f[4])));
            case "ANNOUNCE" -> {
                int[] blocks = new int[f.length - 5];
                for (int i = 0; i < blocks.length; i++) {
                    blocks[i] = Integer.parseInt(f[5 + i]);
                }
                yield say(f, new WireMessage.Announce(Long.parseLong(f[3]), Integer.parseInt(f[4]), 0, false, blocks));
            }
            case "FLOOD" -> flood(peers.get(f[1]), f[2], Integer.parseInt(f[3]), Integer.parseInt(f[4]), Long.parseLong(f[5]));
            default -> throw new IllegalArgumentException("unknown command " + f[0]);
        };
    }

    /** Sends one message in the peer's own, authenticated session, and waits until it left. */
    private String say(String[] f, WireMessage m) throws InterruptedException {
        CacheTransceiver tx = peers.get(f[1]);
        tx.sendRawForTest(f[2], m);
        awaitEngine(tx);
        return "said " + m;
    }

    private String flood(CacheTransceiver tx, String to, int count, int blocksEach, long idBase) throws InterruptedException {
        int[] ids = new int[blocksEach];
        for (int i = 0; i < blocksEach; i++) {
            ids[i] = i;
        }
        for (int i = 0; i < count; i++) {
            tx.sendRawForTest(to, new WireMessage.Announce(idBase + i, 1, 0, false, ids));
        }
        awaitEngine(tx);
        return "flooded " + count;
    }

    /** Waits (bounded) until the engine ran every command queued before this one. */
    private static void awaitEngine(CacheTransceiver tx) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        tx.executeOnEngine(done::countDown);
        if (!done.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the engine of " + tx.name() + " did not run the queued sends within 30 s");
        }
    }

    /**
     * Asks NIXL metadata listeners at {@code host:port,…} for their agent's metadata, from an agent that listens
     * itself (NIXL loads the reply there), and reports whether any of the victims' metadata arrived.
     */
    private String fetch(String[] targets, long millis, String[] victims) throws InterruptedException {
        int listen;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            listen = probe.getLocalPort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        try (NixlAgent a = NixlAgent.create("fetcher-" + listen, AgentConfig.defaults().withListener(listen))) {
            a.createBackend("UCX", NixlAgent.defaultUcxParams());
            StringBuilder refused = new StringBuilder();
            for (String t : targets) {
                int colon = t.lastIndexOf(':');
                try {
                    a.fetchRemoteMetadata(t.substring(0, colon), Integer.parseInt(t.substring(colon + 1)));
                } catch (RuntimeException e) {
                    refused.append(' ').append(t);
                }
            }
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (System.nanoTime() < end) {
                for (String v : victims) {
                    if (a.hasRemote(v)) {
                        return "got " + v;
                    }
                }
                Thread.sleep(20);
            }
            return "none" + (refused.isEmpty() ? "" : " (NIXL refused to ask" + refused + ")");
        }
    }

    /** Tries kvx's control channel as an honest client would, with the secret in the file. */
    private String control(String host, int port, Path secretFile) {
        try (NixlAgent a = NixlAgent.createWithUcx("control-prober-" + port)) {
            ControlClient.Answer answer = ControlClient.exchange(new InetSocketAddress(host, port), SharedSecret.fromFile(secretFile),
                    a.name(), a.localMetadata(), 16 << 20, Duration.ofSeconds(10));
            return "metadata " + answer.metadata().length;
        } catch (dev.kvx.KvxException e) {
            return "refused " + e.getMessage().replace('\n', ' ');
        }
    }

    /** Agents whose metadata the victim admits through its control channel (the secret is right) and that never connect. */
    private String admit(String host, int port, Path secretFile, int count, String prefix) {
        SharedSecret secret = SharedSecret.fromFile(secretFile);
        for (int i = 0; i < count; i++) {
            NixlAgent a = NixlAgent.createWithUcx(prefix + "-" + i);
            agents.put(prefix + "-" + i, a);
            ControlClient.exchange(new InetSocketAddress(host, port), secret, a.name(), a.localMetadata(), 16 << 20, Duration.ofSeconds(10));
        }
        return "admitted " + count;
    }

    private void close() {
        peers.values().forEach(CacheTransceiver::close);
        pools.values().forEach(KvBlockPool::close);
        agents.values().forEach(NixlAgent::close);
    }
}
