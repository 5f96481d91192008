package dev.kvx.transceiver;

import static dev.kvx.transceiver.HostilePeerTest.outcome;
import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.kv.KvBlockPool;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The third part of {@link HostilePeerTest}: without the secret there is nothing to get. kvx's control
 * channel hands a victim's NIXL metadata (the keys to its whole KV pool) only to a client that proved it
 * holds the secret; liars, junk, absurd lengths and silence are dropped within the timeout while
 * legitimate peers keep connecting; and NIXL's own metadata listener, which would serve the metadata to
 * anyone, is not running on any port of the victims' process.
 */
class HostilePeerControlTest {
    private static final int MAGIC = 0x4b565843; // "KVXC", the control channel's greeting
    private static final Duration EXCHANGE_TIMEOUT = Duration.ofSeconds(2);
    private static final SecureRandom RANDOM = new SecureRandom();
    static HostileProcess hostile;

    @BeforeAll
    static void startHostileProcess() throws Exception {
        hostile = new HostileProcess();
    }

    @AfterAll
    static void stopHostileProcess() throws Exception {
        if (hostile != null) {
            hostile.close();
        }
    }

    private static Victims victims() throws Exception {
        CacheTransceiverConfig c = HostilePeerTest.config();
        return new Victims(new CacheTransceiverConfig(c.backend(), c.kvTransferTimeout(), c.kvTransferSenderFutureTimeout(),
                c.sendBufferCount(), c.recvBufferCount(), c.quarantineTimeout(), c.transferMode(), c.limits(), c.peerCheckInterval(),
                EXCHANGE_TIMEOUT, c.closeTimeout(), c.faults()), false);
    }

    /** What the server sent until it closed the connection; fails if it keeps it open past the timeout plus a margin. */
    private static byte[] untilClosed(Socket s) throws IOException {
        s.setSoTimeout((int) EXCHANGE_TIMEOUT.plusSeconds(10).toMillis());
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                got.write(buf, 0, n);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the control channel kept a hostile connection open past its timeout", e);
        } catch (SocketException e) {
            // reset by the server: it dropped us with our bytes unread
        }
        return got.toByteArray();
    }

    private static Socket open(CacheTransceiver tx) throws IOException {
        Socket s = new Socket();
        s.connect(tx.controlAddress(), 5000);
        return s;
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    /** Sends bytes and returns what came back before the server dropped the connection. */
    private static byte[] send(CacheTransceiver tx, byte[] bytes) throws IOException {
        try (Socket s = open(tx)) {
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            return untilClosed(s);
        }
    }

    private static byte[] greeting(int nonceLength, byte[] name) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        out.writeInt(MAGIC);
        out.writeInt(1);
        out.writeInt(nonceLength);
        out.write(random(32));
        if (name != null) {
            out.writeInt(name.length);
            out.write(name);
        }
        return b.toByteArray();
    }

    @Test
    void withoutTheSecretTheControlChannelGivesNothingAndKeepsServingLegitimatePeers() throws Exception {
        try (Victims v = victims()) {
            long refused0 = v.ctx.metrics().snapshot().refusedControl();
            // an honest client with another secret: the server's proof does not verify, so the client stops
            Path wrong = v.dir.resolve("wrong.secret");
            Files.writeString(wrong, java.util.HexFormat.of().formatHex(random(32)));
            String answer = hostile.call("CONTROL " + Victims.host(v.ctx) + " " + wrong);
            assertTrue(answer.startsWith("refused") && answer.contains("does not hold our secret"), answer);
            // a client that lies: it answers the server's proof with 32 random bytes and sends "metadata"
            try (Socket s = open(v.ctx)) {
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.write(greeting(32, "liar".getBytes(StandardCharsets.UTF_8)));
                out.flush();
                DataInputStream in = new DataInputStream(s.getInputStream());
                in.readFully(new byte[in.readInt()]); // server nonce
                in.readFully(new byte[in.readInt()]); // server name
                in.readFully(new byte[in.readInt()]); // server proof
                out.writeInt(32);
                out.write(random(32));
                out.writeInt(200);
                out.write(random(200));
                out.flush();
                assertEquals(0, untilClosed(s).length, "the server sent something after a false proof");
            }
            // junk; absurd length fields (nonce, name, proof); the right greeting then silence; nothing at all
            byte[] named = greeting(32, "x".getBytes(StandardCharsets.UTF_8));
            assertEquals(0, send(v.ctx, random(4096)).length);
            assertEquals(0, send(v.ctx, greeting(Integer.MAX_VALUE, null)).length);
            assertEquals(0, send(v.ctx, withLength(greeting(32, null), Integer.MAX_VALUE)).length);
            assertTrue(send(v.ctx, withLength(named, Integer.MAX_VALUE)).length < 512, "more than the server's greeting came back");
            assertTrue(send(v.ctx, named).length < 512, "more than the server's greeting came back");
            try (Socket silent = open(v.ctx)) {
                assertEquals(0, untilClosed(silent).length);
            }
            assertTrue(eventually(() -> v.ctx.metrics().snapshot().refusedControl() >= refused0 + 8), () -> "refused " + v.ctx.metrics().snapshot().refusedControl());
            assertEquals(refused0 + 8, v.ctx.metrics().snapshot().refusedControl());
            // and a legitimate peer still connects and moves data
            assertLegitimatePeerGetsIn(v);
        }
    }

    /** The bytes followed by a 4-byte length field of {@code length} and nothing else. */
    private static byte[] withLength(byte[] prefix, int length) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(prefix);
        new DataOutputStream(b).writeInt(length);
        return b.toByteArray();
    }

    @Test
    void connectionsThatSayNothingCannotKeepALegitimatePeerOut() throws Exception {
        try (Victims v = victims()) {
            List<Socket> mute = new ArrayList<>();
            try {
                for (int i = 0; i < 40; i++) { // more than the exchanges the server runs at once
                    mute.add(open(v.ctx));
                }
                assertLegitimatePeerGetsIn(v);
            } finally {
                for (Socket s : mute) {
                    s.close();
                }
            }
        }
    }

    static void assertLegitimatePeerGetsIn(Victims v) throws Exception {
        try (KvBlockPool pool = KvBlockPool.inHostMemory(TransceiverPair.LAYOUT, 16, "late-pool");
             CacheTransceiver late = CacheTransceiver.builder("late-peer-" + HostilePeerTest.alias(), pool).secret(v.secret)
                     .config(HostilePeerTest.config()).build()) {
            assertEquals(v.ctx.name(), late.connect(v.ctx.controlAddress(), Duration.ofSeconds(20)));
            v.ctx.awaitConnected(late.name(), Duration.ofSeconds(20));
            LlmRequest c = v.ctxRequest(901, 2);
            LlmRequest g = late.createRequest(901, 2);
            late.receive(g, v.ctx.name());
            v.ctx.send(c, late.name());
            assertEquals(TransferOutcome.Status.COMPLETED, outcome(g).status(), v::describe);
            assertTrue(java.util.Arrays.equals(Victims.content(901, 1), late.readBlock(g, 1)));
            assertEquals(TransferOutcome.Status.COMPLETED, outcome(c).status(), v::describe);
            c.close();
            g.close();
        }
    }

    /** Every TCP port this process listens on, as ip:port (from /proc/net/tcp{,6} and this process's sockets). */
    private static List<String> listeningPorts() throws IOException {
        Set<String> inodes = new HashSet<>();
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String link = Files.readSymbolicLink(fd).toString();
                    if (link.startsWith("socket:[")) {
                        inodes.add(link.substring(8, link.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        List<String> out = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            List<String> lines = Files.readAllLines(Path.of(table));
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                if (f[3].equals("0A") && inodes.contains(f[9])) { // LISTEN, ours
                    String[] a = f[1].split(":");
                    String ip = a[0].length() == 8 && !a[0].equals("00000000")
                            ? String.format("%d.%d.%d.%d", Integer.parseInt(a[0].substring(6, 8), 16), Integer.parseInt(a[0].substring(4, 6), 16),
                                    Integer.parseInt(a[0].substring(2, 4), 16), Integer.parseInt(a[0].substring(0, 2), 16))
                            : "127.0.0.1"; // any address (v4 or v6), or v6 only: ask on loopback
                    out.add(ip + ":" + Integer.parseInt(a[1], 16));
                }
            }
        }
        return out;
    }

    @Test
    void nixlsOwnMetadataListenerServesNothingOnAnyPortOfTheVictims() throws Exception {
        try (Victims v = victims()) {
            List<String> ports = new ArrayList<>(listeningPorts());
            ports.add("127.0.0.1:8888"); // NIXL's default listener port
            String answer = hostile.call("FETCH 3000 " + v.ctx.name() + "," + v.gen.name() + " " + String.join(",", ports));
            assertTrue(answer.startsWith("none"), () -> answer + " (asked " + ports + ")");
            System.out.println("NIXL metadata fetch from every listening port of the victims' process " + ports + ": " + answer);
            assertLegitimatePeerGetsIn(v); // nothing the fetcher sent broke the victims
        }
    }
}
