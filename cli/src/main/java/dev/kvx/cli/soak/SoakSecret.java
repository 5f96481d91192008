package dev.kvx.cli.soak;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/** The soak run's shared secret: 32 random bytes in a file only this user can read, handed to workers as {@code KVX_SECRET_FILE}. */
final class SoakSecret {
    private SoakSecret() {}

    /** Writes a fresh secret to {@code dir/kvx.secret} (mode 600) and returns the file. */
    static Path create(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path f = dir.resolve("kvx.secret");
        Files.deleteIfExists(f);
        Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        Files.writeString(f, HexFormat.of().formatHex(b));
        return f;
    }
}
