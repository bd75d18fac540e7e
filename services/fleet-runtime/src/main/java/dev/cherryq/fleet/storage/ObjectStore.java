package dev.cherryq.fleet.storage;

import dev.cherryq.proto.v1.TensorRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where the fleet keeps tensors, checkpoints and reports. Keys are deterministic per (job, stage, shard)
 * ({@link ObjectKeys}), so a redone task overwrites its output instead of adding a second one. Every read is
 * checked against the reference's length and sha256; objects stream from and to local files, so a large object is
 * never held in heap.
 */
public interface ObjectStore extends AutoCloseable {

    String MEDIA_SAFETENSORS = "application/x-safetensors";
    String MEDIA_JSON = "application/json";
    String MEDIA_INT32 = "application/x-int32-le";
    String MEDIA_PROTOBUF = "application/x-protobuf";
    String MEDIA_BYTES = "application/octet-stream";

    /** Uploads a local file to {@code key} (replacing it) and returns its reference. */
    TensorRef put(String key, Path source, String mediaType, String dtype, long... shape) throws IOException;

    /** Uploads small bytes (ledger entries, reports). */
    TensorRef putBytes(String key, byte[] bytes, String mediaType) throws IOException;

    /**
     * A local file holding the referenced object's bytes, verified against the reference. The filesystem store
     * returns the stored file itself; S3 downloads into {@code cacheDirectory}.
     */
    Path fetch(TensorRef ref, Path cacheDirectory) throws IOException;

    /** The verified bytes of a small object. */
    byte[] fetchBytes(TensorRef ref) throws IOException;

    /** The reference of an existing object (its sha256 computed or read from metadata), or empty. */
    Optional<TensorRef> stat(String key, String mediaType) throws IOException;

    /** Small object bytes under a key, or empty when the key does not exist. Not integrity-checked. */
    Optional<byte[]> readIfExists(String key) throws IOException;

    /** Keys under a prefix, sorted. */
    List<String> list(String prefix) throws IOException;

    /** The URI a reference to {@code key} carries. */
    String uri(String key);

    /** "filesystem /path" or "s3 bucket": for logs. */
    String describe();

    @Override
    void close();

    /** A reference to an object: where it is, what it holds, and how to check it. */
    static TensorRef reference(String uri, long length, String sha256, String mediaType, String dtype, long... shape) {
        TensorRef.Builder ref = TensorRef.newBuilder().setUri(uri).setByteLength(length).setSha256(sha256)
                .setMediaType(mediaType).setDtype(dtype == null ? "" : dtype);
        for (long dimension : shape) {
            ref.addShape(dimension);
        }
        return ref.build();
    }
}
