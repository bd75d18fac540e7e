package dev.cherryq.fleet.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Streaming sha256 in lowercase hex. */
public final class Digests {

    private Digests() {}

    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newSha256().digest(bytes));
    }

    public static String sha256(Path file) throws IOException {
        MessageDigest digest = newSha256();
        byte[] buffer = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int read; (read = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, read);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    public static String hex(MessageDigest digest) {
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Throws {@link IntegrityException} when length or sha256 differ from the reference's. */
    public static void verify(String what, long expectedLength, String expectedSha256, long actualLength,
            String actualSha256) {
        if (expectedLength != actualLength) {
            throw new IntegrityException(what + ": length " + actualLength + " bytes, the reference says "
                    + expectedLength + " (object replaced or truncated after upload)");
        }
        if (!expectedSha256.equalsIgnoreCase(actualSha256)) {
            throw new IntegrityException(what + ": sha256 " + actualSha256 + " does not match the reference's "
                    + expectedSha256 + " (object corrupted after upload)");
        }
    }
}
