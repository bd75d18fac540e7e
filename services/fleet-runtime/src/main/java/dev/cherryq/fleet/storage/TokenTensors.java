package dev.cherryq.fleet.storage;

import dev.cherryq.proto.v1.TensorRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Token-id arrays as objects: little-endian int32, dtype I32, shape (n). */
public final class TokenTensors {

    private TokenTensors() {}

    public static TensorRef put(ObjectStore store, String key, int[] tokens, Path scratch) throws IOException {
        Files.createDirectories(scratch);
        Path file = Files.createTempFile(scratch, "tokens-", ".i32");
        try {
            ByteBuffer buffer = ByteBuffer.allocate(tokens.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buffer.asIntBuffer().put(tokens);
            Files.write(file, buffer.array());
            return store.put(key, file, ObjectStore.MEDIA_INT32, "I32", tokens.length);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Fetches (sha256-checked) and decodes. */
    public static int[] get(ObjectStore store, TensorRef ref, Path cache) throws IOException {
        if (!"I32".equals(ref.getDtype()) || ref.getShapeCount() != 1 || ref.getByteLength() != ref.getShape(0) * 4) {
            throw new IntegrityException(ref.getUri() + ": not an I32 token tensor (dtype " + ref.getDtype() + ", shape "
                    + ref.getShapeList() + ", " + ref.getByteLength() + " bytes)");
        }
        byte[] bytes = Files.readAllBytes(store.fetch(ref, cache));
        int[] tokens = new int[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(tokens);
        return tokens;
    }
}
