package dev.kvx.cli.soak;

import dev.kvx.KvxException;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.internal.control.ControlClient;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The hostile peer's attempts on the victims' control channels, without the secret: an honest client
 * with a secret of its own, junk, a client that answers the server's proof with random bytes and sends
 * "metadata" anyway, and a greeting with an absurd length field. Each attempt counts as
 * refused (an error, or the connection closed with nothing secret sent) or, if the victim sent its
 * metadata or kept the connection open past the timeout, as a leak / a hang.
 */
final class HostileControl {
    private static final int MAGIC = 0x4b565843; // "KVXC"
    /** The attempts' kinds, in the order they take turns: an honest client with another secret (asking for the metadata), junk, a liar, an absurd length. */
    static final String[] KINDS = {"wrongSecret", "junk", "liar", "absurdLength"};
    private final SplittableRandom random;
    private final Duration timeout;
    private final SharedSecret wrong = SharedSecret.generate();
    final AtomicLong attempts = new AtomicLong();
    final AtomicLong refused = new AtomicLong();
    final AtomicLong leaked = new AtomicLong();
    final AtomicLong hung = new AtomicLong();
    final AtomicLong unreachable = new AtomicLong();
    /** Attempts by kind, indexed as {@link #KINDS}. */
    final java.util.concurrent.atomic.AtomicLongArray byKind = new java.util.concurrent.atomic.AtomicLongArray(KINDS.length);

    HostileControl(long seed, Duration timeout) {
        this.random = new SplittableRandom(seed);
        this.timeout = timeout;
    }

    /** One attempt on the control channel at {@code address}, of kind {@code round % KINDS.length} (every address gets every kind). */
    void attempt(InetSocketAddress address, long round, byte[] ownMetadata) {
        int kind = (int) (round % KINDS.length);
        attempts.incrementAndGet();
        byKind.incrementAndGet(kind);
        try {
            switch (kind) {
                case 0 -> wrongSecret(address, ownMetadata);
                case 1 -> raw(address, junk(4096));
                case 2 -> raw(address, liar());
                default -> raw(address, absurdLength());
            }
        } catch (SocketTimeoutException e) {
            hung.incrementAndGet();
        } catch (IOException e) {
            unreachable.incrementAndGet(); // the victim is not there (restarting)
        }
    }

    private void wrongSecret(InetSocketAddress address, byte[] ownMetadata) {
        try {
            ControlClient.exchange(address, wrong, "hostile-" + ProcessHandle.current().pid(), ownMetadata, 16 << 20, timeout);
            leaked.incrementAndGet(); // the victim sent its metadata to a client with another secret
        } catch (KvxException e) {
            if (e.getMessage().contains("no answer within")) {
                hung.incrementAndGet();
            } else if (e.getCause() instanceof java.net.ConnectException) {
                unreachable.incrementAndGet();
            } else {
                refused.incrementAndGet();
            }
        }
    }

    /** Sends bytes; anything but the server's greeting coming back before it closes the connection is a leak. */
    private void raw(InetSocketAddress address, byte[] bytes) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(address, (int) timeout.toMillis());
            s.setSoTimeout((int) timeout.plusSeconds(5).toMillis());
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            long got = 0;
            byte[] buf = new byte[4096];
            try {
                for (int r; (r = in.read(buf)) >= 0; ) {
                    got += r;
                }
            } catch (SocketException e) {
                // reset: dropped with our bytes unread
            }
            if (got > 512) {
                leaked.incrementAndGet();
            } else {
                refused.incrementAndGet();
            }
        }
    }

    private byte[] junk(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    /** A greeting, then a made-up proof and sealed "metadata", all at once (it does not wait for the server's proof). */
    private byte[] liar() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        out.writeInt(MAGIC);
        out.writeInt(1);
        out.writeInt(32);
        out.write(junk(32));
        byte[] name = ("hostile-" + ProcessHandle.current().pid()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.writeInt(name.length);
        out.write(name);
        out.writeInt(32);
        out.write(junk(32));
        out.writeInt(256);
        out.write(junk(256));
        return b.toByteArray();
    }

    private byte[] absurdLength() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        out.writeInt(MAGIC);
        out.writeInt(1);
        out.writeInt(32);
        out.write(junk(32));
        out.writeInt(Integer.MAX_VALUE); // a name of 2 GiB
        return b.toByteArray();
    }
}
