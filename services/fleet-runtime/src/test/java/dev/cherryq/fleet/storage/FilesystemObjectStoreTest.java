package dev.cherryq.fleet.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.proto.v1.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilesystemObjectStoreTest {

    @TempDir
    Path directory;

    @Test
    void shouldStoreAndReturnVerifiedBytesWithAnIndependentlyComputedSha256() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(directory.resolve("store"));
        byte[] bytes = new byte[3 << 20];
        new java.util.Random(1).nextBytes(bytes);
        Path source = Files.write(directory.resolve("source.bin"), bytes);
        TensorRef ref = store.put("jobs/a/scorer/fisher-00000", source, ObjectStore.MEDIA_BYTES, "U8", bytes.length);
        String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        assertEquals(expected, ref.getSha256());
        assertEquals(bytes.length, ref.getByteLength());
        assertEquals(List.of((long) bytes.length), ref.getShapeList());
        assertArrayEquals(bytes, Files.readAllBytes(store.fetch(ref, directory.resolve("cache"))));
        assertEquals(List.of("jobs/a/scorer/fisher-00000"), store.list("jobs/a/"));
        assertEquals(ref, store.stat("jobs/a/scorer/fisher-00000", ObjectStore.MEDIA_BYTES).orElseThrow()
                .toBuilder().setDtype("U8").addShape(bytes.length).build());
    }

    @Test
    void shouldOverwriteTheSameKeyWhenATaskIsRedone() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(directory);
        store.putBytes("jobs/a/evaluator/ledger/x", new byte[] {1}, ObjectStore.MEDIA_BYTES);
        store.putBytes("jobs/a/evaluator/ledger/x", new byte[] {2}, ObjectStore.MEDIA_BYTES);
        assertEquals(List.of("jobs/a/evaluator/ledger/x"), store.list("jobs/a/"));
        assertArrayEquals(new byte[] {2}, store.readIfExists("jobs/a/evaluator/ledger/x").orElseThrow());
    }

    @Test
    void shouldDetectBytesChangedAfterUpload() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(directory.resolve("store"));
        TensorRef ref = store.putBytes("jobs/a/planner/eval-tokens.i32", new byte[] {1, 2, 3, 4, 5, 6, 7, 8},
                ObjectStore.MEDIA_INT32);
        Path stored = Path.of(java.net.URI.create(ref.getUri()));
        Files.write(stored, new byte[] {1, 2, 3, 4, 5, 6, 7, 9}); // same length, one bit flipped
        IntegrityException changed = assertThrows(IntegrityException.class, () -> store.fetch(ref, directory));
        assertTrue(changed.getMessage().contains("does not match"), changed.getMessage());
        Files.write(stored, new byte[] {1, 2, 3});
        IntegrityException truncated = assertThrows(IntegrityException.class, () -> store.fetchBytes(ref));
        assertTrue(truncated.getMessage().contains("length 3 bytes"), truncated.getMessage());
    }

    @Test
    void shouldRefuseKeysAndReferencesOutsideItsRoot() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(directory.resolve("store"));
        assertThrows(IntegrityException.class, () -> store.putBytes("../escape", new byte[1], ObjectStore.MEDIA_BYTES));
        TensorRef outside = TensorRef.newBuilder().setUri("file:///etc/passwd").setByteLength(1).setSha256("00").build();
        assertThrows(IntegrityException.class, () -> store.fetch(outside, directory));
        assertTrue(Files.notExists(directory.resolve("escape")));
    }
}
