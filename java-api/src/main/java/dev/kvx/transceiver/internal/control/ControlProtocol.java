package dev.kvx.transceiver.internal.control;

import dev.kvx.KvxException;
import dev.kvx.transceiver.SharedSecret;
import dev.kvx.transceiver.internal.wire.MacKey;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * kvx's control channel: a TCP exchange that hands NIXL metadata (which holds the memory keys of a
 * whole KV pool) only to a peer that proved it holds the shared secret, and only encrypted.
 * <pre>
 * client → server  "KVXC" v1, client nonce (32 B), client name
 * server → client  server nonce (32 B), server name, HMAC(K, "server" ‖ nc ‖ ns ‖ names)
 * client → server  HMAC(K, "client" ‖ ns ‖ nc ‖ names), AES-GCM(client metadata)
 * server → client  AES-GCM(server metadata)            (or an error text, unencrypted, no secrets)
 * </pre>
 * K is derived from the secret; the encryption key from K and both nonces, so every exchange has its
 * own. Each side checks the other's proof (constant time) before it sends anything secret. Every
 * field is length-checked against a cap before it is read.
 */
final class ControlProtocol {
    static final int MAGIC = 0x4b565843; // "KVXC"
    static final int VERSION = 1;
    static final int NONCE = 32;
    static final int MAX_NAME = 256;
    static final int MAX_ERROR = 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private ControlProtocol() {}

    static byte[] nonce() {
        byte[] n = new byte[NONCE];
        RANDOM.nextBytes(n);
        return n;
    }

    static byte[] proof(SharedSecret secret, String role, byte[] first, byte[] second, String client, String server) {
        byte[] k = secret.derive("kvx/2 control");
        return MacKey.derive(k, role.getBytes(StandardCharsets.US_ASCII), first, second, utf8(client), new byte[] {0}, utf8(server));
    }

    static byte[] seal(SharedSecret secret, byte[] nc, byte[] ns, String direction, byte[] plain) {
        try {
            byte[] iv = new byte[12];
            RANDOM.nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key(secret, nc, ns), new GCMParameterSpec(128, iv));
            c.updateAAD(utf8(direction));
            byte[] sealed = c.doFinal(plain);
            byte[] out = new byte[12 + sealed.length];
            System.arraycopy(iv, 0, out, 0, 12);
            System.arraycopy(sealed, 0, out, 12, sealed.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JDK", e);
        }
    }

    static byte[] open(SharedSecret secret, byte[] nc, byte[] ns, String direction, byte[] box) {
        if (box.length < 12 + 16) {
            throw new KvxException("control channel: sealed metadata too short");
        }
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key(secret, nc, ns), new GCMParameterSpec(128, box, 0, 12));
            c.updateAAD(utf8(direction));
            return c.doFinal(box, 12, box.length - 12);
        } catch (javax.crypto.AEADBadTagException e) {
            throw new KvxException("control channel: the peer's metadata does not authenticate");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JDK", e);
        }
    }

    private static SecretKeySpec key(SharedSecret secret, byte[] nc, byte[] ns) {
        byte[] k = MacKey.derive(secret.derive("kvx/2 control"), utf8("metadata key"), nc, ns);
        return new SecretKeySpec(k, 0, 16, "AES");
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    /** Reads a length-prefixed field, refusing a length outside [min, max] before allocating. */
    static byte[] readBytes(DataInputStream in, int min, int max, String what) throws IOException {
        int n = in.readInt();
        if (n < min || n > max) {
            throw new KvxException("control channel: " + what + " of " + n + " B (" + min + ".." + max + " allowed)");
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    static String readName(DataInputStream in, String what) throws IOException {
        byte[] b = readBytes(in, 1, MAX_NAME, what);
        return new String(b, StandardCharsets.UTF_8);
    }

    static KvxException closed(String what, EOFException e) {
        return new KvxException("control channel: the peer closed the connection during " + what
                + " (a wrong secret, or it refused us; see its log)", e);
    }
}
