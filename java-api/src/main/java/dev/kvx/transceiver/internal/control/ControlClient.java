package dev.kvx.transceiver.internal.control;

import dev.kvx.KvxException;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.internal.wire.MacKey;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/** The connecting side of the control channel ({@link ControlProtocol}): one exchange, bounded by a timeout. */
public final class ControlClient {
    private ControlClient() {}

    /** The server's answer: its agent name and metadata. */
    public record Answer(String name, byte[] metadata) {}

    /**
     * Proves to the server at {@code address} that this side holds the secret, checks that the server
     * does too, and swaps metadata with it (encrypted).
     *
     * @throws KvxException naming what failed (unreachable, wrong secret, refused, timeout)
     */
    public static Answer exchange(InetSocketAddress address, SharedSecret secret, String name, byte[] localMetadata,
                                  int maxMetadata, Duration timeout) {
        int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        try (Socket s = new Socket()) {
            s.connect(address, millis);
            s.setSoTimeout(millis);
            DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
            byte[] nc = ControlProtocol.nonce();
            out.writeInt(ControlProtocol.MAGIC);
            out.writeInt(ControlProtocol.VERSION);
            ControlProtocol.writeBytes(out, nc);
            ControlProtocol.writeBytes(out, ControlProtocol.utf8(name));
            out.flush();
            byte[] ns;
            String server;
            byte[] proof;
            try {
                ns = ControlProtocol.readBytes(in, ControlProtocol.NONCE, ControlProtocol.NONCE, "server nonce");
                server = ControlProtocol.readName(in, "server name");
                proof = ControlProtocol.readBytes(in, 32, 32, "server proof");
            } catch (EOFException e) {
                throw ControlProtocol.closed("the greeting", e);
            }
            if (!MacKey.equal(proof, ControlProtocol.proof(secret, "server", nc, ns, name, server))) {
                throw new KvxException("the kvx peer at " + address + " ('" + server + "') does not hold our secret; nothing was sent to it");
            }
            ControlProtocol.writeBytes(out, ControlProtocol.proof(secret, "client", ns, nc, name, server));
            ControlProtocol.writeBytes(out, ControlProtocol.seal(secret, nc, ns, "client metadata", localMetadata));
            out.flush();
            byte[] box;
            try {
                box = ControlProtocol.readBytes(in, 1, maxMetadata + 64, "server metadata");
            } catch (EOFException e) {
                throw ControlProtocol.closed("the metadata exchange", e);
            }
            return new Answer(server, ControlProtocol.open(secret, nc, ns, "server metadata", box));
        } catch (java.net.SocketTimeoutException e) {
            throw new KvxException("control channel to " + address + ": no answer within " + timeout, e);
        } catch (IOException e) {
            throw new KvxException("control channel to " + address + ": " + e.getMessage()
                    + " (is the peer running with a control address there?)", e);
        }
    }
}
