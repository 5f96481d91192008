package dev.kvx.transceiver.internal.wire;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * One HMAC-SHA256 key, used by one thread (the engine): signs frames with a 16-byte tag (the first half
 * of the HMAC) and checks tags in constant time. Signing and checking allocate nothing.
 */
public final class MacKey {
    /** Tag length on the wire. */
    public static final int TAG = 16;
    private final Mac mac;
    private final byte[] out = new byte[32];

    /** A key from raw bytes. */
    public MacKey(byte[] key) {
        try {
            mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JDK", e);
        }
    }

    /** Writes the tag of {@code buf[0, len)} into {@code buf[len, len + 16)}. */
    public void sign(byte[] buf, int len) {
        tag(buf, len);
        System.arraycopy(out, 0, buf, len, TAG);
    }

    /** Whether {@code buf[len, len + 16)} is the tag of {@code buf[0, len)}; constant time in the tag bytes. */
    public boolean verify(byte[] buf, int len) {
        if (buf.length < len + TAG) {
            return false;
        }
        tag(buf, len);
        int diff = 0;
        for (int i = 0; i < TAG; i++) {
            diff |= out[i] ^ buf[len + i];
        }
        return diff == 0;
    }

    private void tag(byte[] buf, int len) {
        mac.update(buf, 0, len);
        try {
            mac.doFinal(out, 0);
        } catch (javax.crypto.ShortBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    /** HMAC-SHA256 of the parts under {@code key}: the key schedule's derivation step. */
    public static byte[] derive(byte[] key, byte[]... parts) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            for (byte[] p : parts) {
                m.update(p);
            }
            return m.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JDK", e);
        }
    }

    /** Constant-time equality of two byte arrays. */
    public static boolean equal(byte[] a, byte[] b) {
        return MessageDigest.isEqual(a, b);
    }
}
