package dev.kvx.transceiver;

import dev.kvx.transceiver.internal.wire.MacKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;

/**
 * The secret that lets a peer in. Every transceiver of a deployment is given the same secret; at
 * connect the two sides prove to each other that they hold it (a challenge-response, never the secret
 * itself on the wire) and derive per-session keys from it, which authenticate every message (an
 * HMAC-SHA256 tag) and protect the metadata exchange.
 *
 * <p>It comes from configuration: a file ({@link #fromFile}, e.g. a mounted Kubernetes secret) or an
 * environment variable ({@link #fromEnvironment}); {@link #fromConfiguration()} looks at
 * {@code -Dkvx.secret.file}, {@code KVX_SECRET_FILE} and {@code KVX_SECRET}. Never from a command line
 * (visible in {@code ps}), and never logged: {@link #toString()} names only where it came from.
 * {@link #insecure()} is the explicit, logged choice of running without one (a single trusted host).
 */
public final class SharedSecret {
    /** The fewest bytes a secret may have. */
    public static final int MIN_BYTES = 16;
    private static final byte[] INSECURE_KEY = "kvx-insecure-mode-no-secret".getBytes(StandardCharsets.US_ASCII);
    private final byte[] key;
    private final boolean insecure;
    private final String source;

    private SharedSecret(byte[] key, boolean insecure, String source) {
        this.key = key;
        this.insecure = insecure;
        this.source = source;
    }

    /**
     * Reads the secret from a file (surrounding whitespace is ignored).
     *
     * @throws IllegalArgumentException if the file is unreadable or holds fewer than {@value #MIN_BYTES} bytes
     */
    public static SharedSecret fromFile(Path file) {
        Objects.requireNonNull(file, "file");
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the kvx secret file " + file + ": " + e.getMessage(), e);
        }
        String source = "file " + file;
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (perms.contains(PosixFilePermission.OTHERS_READ)) {
                System.getLogger(SharedSecret.class.getName()).log(System.Logger.Level.WARNING,
                        "kvx secret file " + file + " is readable by every user; chmod 600 it");
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // not a POSIX file system: nothing to check
        }
        return of(trim(raw), source);
    }

    /**
     * Takes the secret from an environment variable.
     *
     * @throws IllegalArgumentException if it is unset or shorter than {@value #MIN_BYTES} bytes
     */
    public static SharedSecret fromEnvironment(String variable) {
        String v = System.getenv(variable);
        if (v == null) {
            throw new IllegalArgumentException("environment variable " + variable + " (the kvx secret) is not set");
        }
        return of(trim(v.getBytes(StandardCharsets.UTF_8)), "environment variable " + variable);
    }

    /**
     * The configured secret: the file named by {@code -Dkvx.secret.file} or {@code KVX_SECRET_FILE}, else
     * the value of {@code KVX_SECRET}.
     *
     * @throws IllegalArgumentException if none is configured, saying how to configure one (or to choose
     *         {@link #insecure()} explicitly)
     */
    public static SharedSecret fromConfiguration() {
        String file = System.getProperty("kvx.secret.file", System.getenv("KVX_SECRET_FILE"));
        if (file != null && !file.isBlank()) {
            return fromFile(Path.of(file));
        }
        if (System.getenv("KVX_SECRET") != null) {
            return fromEnvironment("KVX_SECRET");
        }
        throw new IllegalArgumentException("no kvx secret configured: put at least " + MIN_BYTES + " random bytes in a file "
                + "readable only by the service (e.g. 'head -c 32 /dev/urandom | base64 > kvx.secret; chmod 600 kvx.secret') and "
                + "point -Dkvx.secret.file or KVX_SECRET_FILE at it, or set KVX_SECRET; every peer needs the same secret. "
                + "To run without one on a single trusted host, choose SharedSecret.insecure() explicitly");
    }

    /** A secret from bytes held by the application (copied). */
    public static SharedSecret of(byte[] secret) {
        return of(secret.clone(), "application");
    }

    private static SharedSecret of(byte[] secret, String source) {
        if (secret.length < MIN_BYTES) {
            throw new IllegalArgumentException("the kvx secret from " + source + " has " + secret.length + " byte(s); at least "
                    + MIN_BYTES + " are needed");
        }
        return new SharedSecret(secret, false, source);
    }

    /** A fresh random secret (for peers in one process, and tests). */
    public static SharedSecret generate() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return new SharedSecret(b, false, "generated");
    }

    /**
     * No secret: every peer that can reach this transceiver's agent can connect and send messages, and
     * the metadata (the keys to the KV pool) goes to whoever asks. Only for a single host whose every
     * process is trusted. A transceiver created with it logs a warning.
     */
    public static SharedSecret insecure() {
        return new SharedSecret(INSECURE_KEY, true, "insecure mode");
    }

    /** Whether this is {@link #insecure()}. */
    public boolean isInsecure() {
        return insecure;
    }

    /** Where the secret came from (never its bytes). */
    public String source() {
        return source;
    }

    /**
     * A key derived from the secret for one purpose: HMAC-SHA256(secret, label ‖ parts). Internal use
     * by the handshake and the control channel; the secret itself never leaves this object.
     */
    public byte[] derive(String label, byte[]... parts) {
        byte[][] all = Arrays.copyOf(new byte[][] {label.getBytes(StandardCharsets.UTF_8)}, parts.length + 1);
        System.arraycopy(parts, 0, all, 1, parts.length);
        return MacKey.derive(key, all);
    }

    /** A short fingerprint (first 4 bytes of a derived key) to check that two sides hold the same secret. */
    public String fingerprint() {
        return HexFormat.of().formatHex(derive("kvx/2 fingerprint"), 0, 4);
    }

    private static byte[] trim(byte[] raw) {
        int from = 0;
        int to = raw.length;
        while (from < to && Character.isWhitespace(raw[from])) {
            from++;
        }
        while (to > from && Character.isWhitespace(raw[to - 1])) {
            to--;
        }
        return Arrays.copyOfRange(raw, from, to);
    }

    @Override
    public String toString() {
        return "SharedSecret[" + source + "]";
    }
}
