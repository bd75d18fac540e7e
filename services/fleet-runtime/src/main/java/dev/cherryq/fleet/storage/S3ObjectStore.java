package dev.cherryq.fleet.storage;

import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.proto.v1.TensorRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The store on S3 or any S3-compatible service (MinIO, s3proxy) through the AWS SDK v2. Objects above
 * {@link #MULTIPART_THRESHOLD} go up as a multipart upload of {@link #PART_SIZE} parts read one at a time from the
 * file, so a checkpoint is never held in heap. The sha256 is stored as object metadata; downloads stream to a file
 * while hashing and are refused on mismatch.
 */
public final class S3ObjectStore implements ObjectStore {

    static final long MULTIPART_THRESHOLD = 16L << 20;
    static final int PART_SIZE = 8 << 20;
    private static final String SHA_METADATA = "sha256";

    private final S3Client client;
    private final String bucket;
    private final String prefix;

    public S3ObjectStore(FleetConfig.S3Settings settings) {
        var builder = S3Client.builder().httpClient(UrlConnectionHttpClient.create())
                .region(Region.of(settings.region()))
                .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(settings.pathStyle()).build());
        if (settings.endpoint() != null && !settings.endpoint().isEmpty()) {
            builder.endpointOverride(URI.create(settings.endpoint()));
        }
        if (settings.accessKeyId() != null && !settings.accessKeyId().isEmpty()) {
            builder.credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                    settings.accessKeyId(), settings.secretAccessKey() == null ? "" : settings.secretAccessKey())));
        } else {
            builder.credentialsProvider(DefaultCredentialsProvider.builder().build());
        }
        this.client = builder.build();
        this.bucket = settings.bucket();
        this.prefix = settings.prefix() == null ? "" : settings.prefix();
    }

    /** The client, for reading allowed input buckets with the same credentials. */
    public S3Client client() {
        return client;
    }

    @Override
    public TensorRef put(String key, Path source, String mediaType, String dtype, long... shape) throws IOException {
        long length = Files.size(source);
        String sha256 = Digests.sha256(source);
        Map<String, String> metadata = Map.of(SHA_METADATA, sha256);
        String objectKey = prefix + key;
        if (length <= MULTIPART_THRESHOLD) {
            client.putObject(request -> request.bucket(bucket).key(objectKey).contentType(mediaType).metadata(metadata),
                    RequestBody.fromFile(source));
        } else {
            uploadMultipart(objectKey, source, mediaType, metadata);
        }
        return reference(key, length, sha256, mediaType, dtype, shape);
    }

    private void uploadMultipart(String objectKey, Path source, String mediaType, Map<String, String> metadata)
            throws IOException {
        String uploadId = client.createMultipartUpload(request -> request.bucket(bucket).key(objectKey)
                .contentType(mediaType).metadata(metadata)).uploadId();
        List<CompletedPart> parts = new ArrayList<>();
        try (FileChannel channel = FileChannel.open(source, StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate(PART_SIZE); // the only part in heap
            for (int partNumber = 1; ; partNumber++) {
                buffer.clear();
                while (buffer.hasRemaining() && channel.read(buffer) > 0) {
                    // fill one part
                }
                buffer.flip();
                if (!buffer.hasRemaining()) {
                    break;
                }
                int number = partNumber;
                String etag = client.uploadPart(request -> request.bucket(bucket).key(objectKey).uploadId(uploadId)
                        .partNumber(number), RequestBody.fromByteBuffer(buffer)).eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
            }
            client.completeMultipartUpload(request -> request.bucket(bucket).key(objectKey).uploadId(uploadId)
                    .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()));
        } catch (IOException | RuntimeException e) {
            client.abortMultipartUpload(request -> request.bucket(bucket).key(objectKey).uploadId(uploadId));
            throw e;
        }
    }

    @Override
    public TensorRef putBytes(String key, byte[] bytes, String mediaType) {
        String sha256 = Digests.sha256(bytes);
        client.putObject(request -> request.bucket(bucket).key(prefix + key).contentType(mediaType)
                .metadata(Map.of(SHA_METADATA, sha256)), RequestBody.fromBytes(bytes));
        return reference(key, bytes.length, sha256, mediaType, "");
    }

    @Override
    public Path fetch(TensorRef ref, Path cacheDirectory) throws IOException {
        String key = keyOfUri(ref.getUri());
        Path target = cacheDirectory.resolve(key.replace(':', '_')).normalize();
        if (!target.startsWith(cacheDirectory)) {
            throw new IntegrityException("'" + ref.getUri() + "' leaves the download cache");
        }
        if (Files.isRegularFile(target) && Files.size(target) == ref.getByteLength()
                && Digests.sha256(target).equalsIgnoreCase(ref.getSha256())) {
            return target; // already downloaded and intact
        }
        Files.createDirectories(target.getParent());
        Path temporary = Files.createTempFile(target.getParent(), ".download-", ".part");
        MessageDigest digest = Digests.newSha256();
        long length = 0;
        try (InputStream in = open(key, ref.getUri()); OutputStream out = Files.newOutputStream(temporary)) {
            byte[] buffer = new byte[1 << 20];
            for (int read; (read = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, read);
                out.write(buffer, 0, read);
                length += read;
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
        try {
            Digests.verify(ref.getUri(), ref.getByteLength(), ref.getSha256(), length, Digests.hex(digest));
        } catch (IntegrityException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return target;
    }

    @Override
    public byte[] fetchBytes(TensorRef ref) throws IOException {
        byte[] bytes;
        try (InputStream in = open(keyOfUri(ref.getUri()), ref.getUri())) {
            bytes = in.readAllBytes();
        }
        Digests.verify(ref.getUri(), ref.getByteLength(), ref.getSha256(), bytes.length, Digests.sha256(bytes));
        return bytes;
    }

    @Override
    public Optional<TensorRef> stat(String key, String mediaType) {
        try {
            HeadObjectResponse head = client.headObject(request -> request.bucket(bucket).key(prefix + key));
            String sha256 = head.metadata().get(SHA_METADATA);
            if (sha256 == null) {
                return Optional.empty(); // not written by the fleet: treat as absent and redo
            }
            return Optional.of(reference(key, head.contentLength(), sha256, mediaType, ""));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public Optional<byte[]> readIfExists(String key) {
        try {
            return Optional.of(client.getObjectAsBytes(request -> request.bucket(bucket).key(prefix + key)).asByteArray());
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> list(String keyPrefix) {
        List<String> keys = new ArrayList<>();
        for (S3Object object : client.listObjectsV2Paginator(request -> request.bucket(bucket)
                .prefix(prefix + keyPrefix)).contents()) {
            keys.add(object.key().substring(prefix.length()));
        }
        keys.sort(null);
        return keys;
    }

    @Override
    public String uri(String key) {
        return "s3://" + bucket + "/" + prefix + key;
    }

    @Override
    public String describe() {
        return "s3 bucket " + bucket + (prefix.isEmpty() ? "" : " prefix " + prefix);
    }

    @Override
    public void close() {
        client.close();
    }

    private InputStream open(String key, String uri) throws NoSuchFileException {
        try {
            ResponseInputStream<GetObjectResponse> in = client.getObject(request -> request.bucket(bucket)
                    .key(prefix + key));
            return in;
        } catch (NoSuchKeyException e) {
            throw new NoSuchFileException(uri + ": object not found in the store");
        }
    }

    private String keyOfUri(String uri) {
        String expected = "s3://" + bucket + "/" + prefix;
        if (!uri.startsWith(expected)) {
            throw new IntegrityException("'" + uri + "' is not in this store (" + expected + "...)");
        }
        return uri.substring(expected.length());
    }

    private TensorRef reference(String key, long length, String sha256, String mediaType, String dtype, long... shape) {
        return ObjectStore.reference(uri(key), length, sha256, mediaType, dtype, shape);
    }
}
