package dev.cherryq.fleet.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.proto.v1.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.gaul.s3proxy.junit.S3ProxyExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;

/** The S3 store against a real S3 implementation (s3proxy, in this JVM, on loopback; signatures checked). */
class S3ObjectStoreTest {

    @RegisterExtension
    static final S3ProxyExtension S3 = S3ProxyExtension.builder().withCredentials("test-access", "test-secret").build();

    @TempDir
    Path directory;

    private S3ObjectStore store(String bucket, String secret) {
        String host = S3.getUri().getHost();
        assertTrue(host.equals("127.0.0.1") || host.equals("localhost"), "s3proxy must listen on loopback: " + host);
        return new S3ObjectStore(new FleetConfig.S3Settings(bucket, S3.getUri().toString(), "us-east-1", true,
                S3.getAccessKey(), secret, "fleet/"));
    }

    private S3ObjectStore storeWithBucket() {
        S3ObjectStore store = store("cherryq", S3.getSecretKey());
        store.client().createBucket(request -> request.bucket("cherryq"));
        return store;
    }

    @Test
    void shouldUploadLargeObjectsInPartsAndVerifyThemOnDownload() throws Exception {
        try (S3ObjectStore store = storeWithBucket()) {
            byte[] bytes = new byte[(int) S3ObjectStore.MULTIPART_THRESHOLD + 3 * S3ObjectStore.PART_SIZE / 2];
            new Random(7).nextBytes(bytes);
            Path source = Files.write(directory.resolve("checkpoint.safetensors"), bytes);
            TensorRef ref = store.put("jobs/j/trainer/checkpoint", source, ObjectStore.MEDIA_SAFETENSORS, "");
            assertEquals("s3://cherryq/fleet/jobs/j/trainer/checkpoint", ref.getUri());
            assertEquals(Digests.sha256(bytes), ref.getSha256());
            Path fetched = store.fetch(ref, directory.resolve("cache"));
            assertArrayEquals(bytes, Files.readAllBytes(fetched));
            assertEquals(ref.getSha256(), store.stat("jobs/j/trainer/checkpoint", ObjectStore.MEDIA_SAFETENSORS)
                    .orElseThrow().getSha256());
            assertEquals(List.of("jobs/j/trainer/checkpoint"), store.list("jobs/j/"));
        }
    }

    @Test
    void shouldDetectAnObjectReplacedAfterUpload() throws Exception {
        try (S3ObjectStore store = storeWithBucket()) {
            TensorRef ref = store.putBytes("jobs/j/planner/eval-tokens.i32", new byte[] {1, 2, 3, 4},
                    ObjectStore.MEDIA_INT32);
            store.client().putObject(request -> request.bucket("cherryq").key("fleet/jobs/j/planner/eval-tokens.i32"),
                    RequestBody.fromBytes(new byte[] {1, 2, 3, 5}));
            IntegrityException error = assertThrows(IntegrityException.class,
                    () -> store.fetch(ref, directory.resolve("cache")));
            assertTrue(error.getMessage().contains("sha256"), error.getMessage());
            assertTrue(Files.notExists(directory.resolve("cache/jobs/j/planner/eval-tokens.i32")),
                    "a corrupt download must not stay in the cache");
        }
    }

    @Test
    void shouldBeRefusedWithAWrongSecret() {
        storeWithBucket().close();
        try (S3ObjectStore store = store("cherryq", "wrong-secret")) {
            var error = assertThrows(software.amazon.awssdk.services.s3.model.S3Exception.class,
                    () -> store.putBytes("jobs/j/x", new byte[1], ObjectStore.MEDIA_BYTES));
            assertEquals(403, error.statusCode());
        }
    }

    @Test
    void shouldReadInputModelsOnlyFromAllowedBuckets() throws Exception {
        try (S3ObjectStore store = storeWithBucket()) {
            store.client().createBucket(request -> request.bucket("models"));
            store.client().putObject(request -> request.bucket("models").key("demo/config.json"),
                    RequestBody.fromString("{}"));
            store.client().putObject(request -> request.bucket("models").key("demo2/config.json"),
                    RequestBody.fromString("{\"other\": 1}"));
            store.client().putObject(request -> request.bucket("models").key("demo2/extra.bin"),
                    RequestBody.fromString("x"));
            ReferenceResolver resolver = new ReferenceResolver(List.of(), List.of(), List.of("models", "cherryq"),
                    store.client(), directory.resolve("inputs"), "cherryq");
            Path folder = resolver.model("s3://models/demo");
            assertEquals("{}", Files.readString(folder.resolve("config.json")));
            assertTrue(Files.notExists(folder.resolve("extra.bin")) && Files.notExists(folder.getParent()
                    .resolve("demo2")), "models/demo matches whole path segments, not models/demo2");
            ReferenceResolver strict = new ReferenceResolver(List.of(), List.of(), List.of("other"), store.client(),
                    directory.resolve("inputs2"), "cherryq");
            assertThrows(InvalidInputException.class, () -> strict.model("s3://models/demo"));
            for (String wholeBucket : List.of("s3://models", "s3://models/", "s3://models//")) {
                String message = assertThrows(InvalidInputException.class, () -> resolver.model(wholeBucket))
                        .getMessage();
                assertTrue(message.contains("names a whole bucket"), message);
            }
            String ownStore = assertThrows(InvalidInputException.class,
                    () -> resolver.data("s3://cherryq/fleet/jobs/other-job/planner/eval-tokens.i32")).getMessage();
            assertTrue(ownStore.contains("the fleet's own store"), ownStore);
        }
    }

    @Test
    void shouldDownloadAnInputAgainWhenItsObjectChangedEvenAtTheSameSize() throws Exception {
        try (S3ObjectStore store = storeWithBucket()) {
            store.client().createBucket(request -> request.bucket("texts"));
            store.client().putObject(request -> request.bucket("texts").key("corpus/a.txt"),
                    RequestBody.fromString("first"));
            ReferenceResolver resolver = new ReferenceResolver(List.of(), List.of(), List.of("texts"), store.client(),
                    directory.resolve("inputs"), "cherryq");
            Path file = resolver.data("s3://texts/corpus/a.txt");
            assertEquals("first", Files.readString(file));
            store.client().putObject(request -> request.bucket("texts").key("corpus/a.txt"),
                    RequestBody.fromString("other"));
            assertEquals("other", Files.readString(resolver.data("s3://texts/corpus/a.txt")),
                    "same size, another ETag: fetched again");
        }
    }
}
