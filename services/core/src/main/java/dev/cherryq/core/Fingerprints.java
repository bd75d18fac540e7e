package dev.cherryq.core;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Short content hashes (the first 16 hex digits of SHA-256) that identify inputs in provenance and checkpoints. */
public final class Fingerprints {

    private final MessageDigest digest;

    private Fingerprints() {
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Fingerprints start() {
        return new Fingerprints();
    }

    public static String of(int[] values) {
        return start().add(values).finish();
    }

    public Fingerprints add(String text) {
        digest.update(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return this;
    }

    public Fingerprints add(int[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4);
        bytes.asIntBuffer().put(values);
        digest.update(bytes.array());
        return this;
    }

    public Fingerprints add(float[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4);
        bytes.asFloatBuffer().put(values);
        digest.update(bytes.array());
        return this;
    }

    public String finish() {
        return HexFormat.of().formatHex(digest.digest()).substring(0, 16);
    }
}
