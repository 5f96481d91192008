package dev.kvx.transceiver.internal.control;

import dev.kvx.KvxException;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.internal.wire.MacKey;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * The accepting side of the control channel ({@link ControlProtocol}): a TCP listener bound to one
 * configured address (loopback by default, never every interface unless asked), each exchange bounded
 * by a timeout. A client that fails the proof gets nothing secret and is counted. Clients that have not
 * proven the secret yet are held to {@value #MAX_UNPROVEN} at once: when more connect, the oldest of them
 * is dropped, so connections that say nothing (or too little, too slowly) cannot keep a legitimate peer,
 * whose proof follows its greeting within a round trip, from getting in. Runs on its own daemon thread;
 * {@link #close()} stops it.
 */
public final class ControlServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ControlServer.class.getName());
    /** Connections held at once before their client proved the secret; a newer one displaces the oldest. */
    static final int MAX_UNPROVEN = 32;
    private final ServerSocket socket;
    private final SharedSecret secret;
    private final String name;
    private final Supplier<byte[]> localMetadata;
    private final BiFunction<String, byte[], String> admit;
    private final int maxMetadata;
    private final int timeoutMillis;
    private final ConcurrentLinkedDeque<Socket> unproven = new ConcurrentLinkedDeque<>();
    private final Thread acceptor;
    private final AtomicLong refused = new AtomicLong();
    private static final long LOGGED_REFUSALS = 10;
    private final AtomicLong served = new AtomicLong();
    private volatile boolean closed;

    /**
     * Binds and starts listening.
     *
     * @param admit loads a client's metadata (client name, bytes) and returns the agent name NIXL found in it
     * @throws KvxException if the address cannot be bound
     */
    public ControlServer(InetSocketAddress bind, SharedSecret secret, String name, Supplier<byte[]> localMetadata,
                         BiFunction<String, byte[], String> admit, int maxMetadata, Duration timeout) {
        this.secret = secret;
        this.name = name;
        this.localMetadata = localMetadata;
        this.admit = admit;
        this.maxMetadata = maxMetadata;
        this.timeoutMillis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        try {
            this.socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(bind, 16);
        } catch (IOException e) {
            throw new KvxException("kvx " + name + ": cannot listen for peers on " + bind + ": " + e.getMessage(), e);
        }
        this.acceptor = Thread.ofPlatform().daemon().name("kvx-control-" + name).unstarted(this::acceptLoop);
        acceptor.start();
    }

    /** The bound address (with the port chosen when 0 was asked). */
    public InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    /** Exchanges refused (bad proof, bad input, timeout, dropped for newer unproven clients). */
    public long refused() {
        return refused.get();
    }

    /** Exchanges completed. */
    public long served() {
        return served.get();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = socket.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": control channel accept failed", e);
                }
                continue;
            }
            unproven.addLast(s);
            while (unproven.size() > MAX_UNPROVEN) {
                Socket oldest = unproven.pollFirst();
                if (oldest != null) {
                    closeQuietly(oldest); // its exchange fails at its next read or write, and is counted refused
                }
            }
            Thread.ofVirtual().name("kvx-control-" + name + "-exchange").start(() -> {
                try {
                    serve(s);
                    served.incrementAndGet();
                } catch (IOException | RuntimeException e) {
                    long n = refused.incrementAndGet();
                    // an attacker must not grow the log without bound: the first ones in full, then a count now and then
                    if (n <= LOGGED_REFUSALS) {
                        LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": refused a control-channel exchange from "
                                + s.getRemoteSocketAddress() + ": " + e.getMessage() + (n == LOGGED_REFUSALS
                                ? " (further refusals are counted, kvx.transceiver.control.refused, and logged every 1000)" : ""));
                    } else if (n % 1000 == 0) {
                        LOG.log(System.Logger.Level.WARNING, "kvx " + name + ": " + n + " control-channel exchanges refused so far");
                    }
                } finally {
                    unproven.remove(s);
                    closeQuietly(s);
                }
            });
        }
    }

    private void serve(Socket s) throws IOException {
        s.setSoTimeout(timeoutMillis);
        DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
        if (in.readInt() != ControlProtocol.MAGIC || in.readInt() != ControlProtocol.VERSION) {
            throw new KvxException("not a kvx control-channel client (magic/version)");
        }
        byte[] nc = ControlProtocol.readBytes(in, ControlProtocol.NONCE, ControlProtocol.NONCE, "client nonce");
        String client = ControlProtocol.readName(in, "client name");
        byte[] ns = ControlProtocol.nonce();
        ControlProtocol.writeBytes(out, ns);
        ControlProtocol.writeBytes(out, ControlProtocol.utf8(name));
        ControlProtocol.writeBytes(out, ControlProtocol.proof(secret, "server", nc, ns, client, name));
        out.flush();
        byte[] proof = ControlProtocol.readBytes(in, 32, 32, "client proof");
        if (!MacKey.equal(proof, ControlProtocol.proof(secret, "client", ns, nc, client, name))) {
            throw new KvxException("client '" + client + "' does not hold the secret (its proof does not verify)");
        }
        if (!unproven.remove(s)) {
            throw new KvxException("client '" + client + "' proved the secret after its connection was dropped for newer ones");
        }
        byte[] box = ControlProtocol.readBytes(in, 1, maxMetadata + 64, "client metadata");
        byte[] md = ControlProtocol.open(secret, nc, ns, "client metadata", box);
        String agent = admit.apply(client, md);
        if (!agent.equals(client)) {
            throw new KvxException("client '" + client + "' sent the metadata of agent '" + agent + "'");
        }
        ControlProtocol.writeBytes(out, ControlProtocol.seal(secret, nc, ns, "server metadata", localMetadata.get()));
        out.flush();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    /** Stops listening. Idempotent. */
    @Override
    public void close() {
        closed = true;
        try {
            socket.close();
        } catch (IOException e) {
            // already closed
        }
    }

    static boolean isClosedSocket(IOException e) {
        return e instanceof SocketException;
    }
}
