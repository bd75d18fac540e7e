package dev.cherryq.fleet.storage;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.config.FleetConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Turns the model and data references of a request into local paths, and refuses everything outside the configured
 * roots and buckets: a request can name {@code models/demo} (relative to a root), an absolute path under a root,
 * {@code file:} URIs under a root, or {@code s3://bucket/prefix} in an allowed bucket (downloaded to the work
 * folder). Symbolic links are resolved before the check, so a link cannot lead out of a root. An S3 reference must
 * name a prefix (never a whole bucket), matches whole path segments ({@code models/demo} is not
 * {@code models/demo2}), and may not name the fleet's own store bucket, where other jobs' objects live. A download is
 * reused only when its size and ETag match the object's.
 */
public final class ReferenceResolver {

    private final List<Path> modelRoots;
    private final List<Path> dataRoots;
    private final List<String> allowedBuckets;
    private final S3Client s3;
    private final Path downloads;
    private final String storeBucket;

    public ReferenceResolver(FleetConfig config, ObjectStore store) {
        this(config.modelRoots(), config.dataRoots(), config.allowedBuckets(),
                store instanceof S3ObjectStore s3Store ? s3Store.client() : null,
                config.workDirectory().resolve("inputs"), config.store() == FleetConfig.StoreKind.S3
                        ? config.s3().bucket() : null);
    }

    /** @param storeBucket the bucket of the fleet's own store (refused as an input), or null */
    public ReferenceResolver(List<Path> modelRoots, List<Path> dataRoots, List<String> allowedBuckets, S3Client s3,
            Path downloads, String storeBucket) {
        this.modelRoots = modelRoots;
        this.dataRoots = dataRoots;
        this.allowedBuckets = allowedBuckets;
        this.s3 = s3;
        this.downloads = downloads;
        this.storeBucket = storeBucket;
    }

    /** A local model folder (or llama2.c file) for a model reference. */
    public Path model(String reference) throws IOException {
        return resolve("model", reference, modelRoots);
    }

    /** A local text file for a data reference. */
    public Path data(String reference) throws IOException {
        return resolve("data", reference, dataRoots);
    }

    private Path resolve(String kind, String reference, List<Path> roots) throws IOException {
        if (reference == null || reference.isBlank()) {
            throw new InvalidInputException(kind + " reference is empty");
        }
        if (reference.startsWith("s3://")) {
            return download(kind, reference);
        }
        Path candidate;
        if (reference.startsWith("file:")) {
            URI uri = URI.create(reference);
            if (uri.getAuthority() != null && !uri.getAuthority().isEmpty()) {
                throw new InvalidInputException(kind + " reference '" + reference + "' names a remote host");
            }
            candidate = Path.of(uri);
        } else if (reference.contains("://")) {
            throw new InvalidInputException(kind + " reference '" + reference + "': only file: paths and s3:// are "
                    + "supported");
        } else {
            candidate = Path.of(reference);
        }
        if (roots.isEmpty()) {
            throw new InvalidInputException(kind + " reference '" + reference + "': no " + kind + " roots are configured "
                    + "(CHERRYQ_" + kind.toUpperCase() + "_ROOTS), so no local " + kind + " may be read");
        }
        for (Path root : roots) {
            Path resolved = candidate.isAbsolute() ? candidate.normalize() : root.resolve(candidate).normalize();
            if (!resolved.startsWith(root)) {
                continue;
            }
            if (!Files.exists(resolved)) {
                if (candidate.isAbsolute()) {
                    break;
                }
                continue;
            }
            Path real = resolved.toRealPath();
            if (roots.stream().anyMatch(r -> real.startsWith(realOrSelf(r)))) {
                return real;
            }
            throw new InvalidInputException(kind + " reference '" + reference + "' leads outside the allowed roots "
                    + roots + " (through a link)");
        }
        boolean inside = roots.stream().anyMatch(root -> (candidate.isAbsolute() ? candidate.normalize()
                : root.resolve(candidate).normalize()).startsWith(root));
        if (!inside) {
            throw new InvalidInputException(kind + " reference '" + reference + "' is outside the allowed " + kind
                    + " roots " + roots);
        }
        throw new InvalidInputException(kind + " '" + reference + "' not found under " + roots);
    }

    private Path download(String kind, String reference) throws IOException {
        URI uri = URI.create(reference);
        String bucket = uri.getHost();
        String prefix = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
        if (bucket == null || !allowedBuckets.contains(bucket)) {
            throw new InvalidInputException(kind + " reference '" + reference + "': bucket '" + bucket
                    + "' is not in the allow-list " + allowedBuckets + " (CHERRYQ_ALLOWED_BUCKETS)");
        }
        if (s3 == null) {
            throw new InvalidInputException(kind + " reference '" + reference + "': this deployment has no S3 store "
                    + "configured (CHERRYQ_STORE=s3)");
        }
        if (bucket.equals(storeBucket)) {
            throw new InvalidInputException(kind + " reference '" + reference + "': bucket '" + bucket + "' is the "
                    + "fleet's own store, which holds other jobs' objects; put inputs in another bucket");
        }
        if (prefix.contains("..")) {
            throw new InvalidInputException(kind + " reference '" + reference + "' contains '..'");
        }
        String folder = prefix.replaceFirst("/+$", "");
        if (folder.isEmpty()) {
            throw new InvalidInputException(kind + " reference '" + reference + "' names a whole bucket; name the "
                    + kind + "'s object or folder in it");
        }
        Path target = downloads.resolve(bucket).resolve(folder).normalize();
        // the object itself, or whole path segments under it: models/demo never matches models/demo2
        List<S3Object> objects = s3.listObjectsV2Paginator(request -> request.bucket(bucket).prefix(folder))
                .contents().stream().filter(o -> o.key().equals(folder) || o.key().startsWith(folder + "/")).toList();
        if (objects.isEmpty()) {
            throw new InvalidInputException(kind + " '" + reference + "' not found (no objects under that prefix)");
        }
        for (S3Object object : objects) {
            Path file = object.key().equals(folder) ? target
                    : target.resolve(object.key().substring(folder.length() + 1)).normalize();
            if (!file.startsWith(downloads)) {
                continue;
            }
            Path tag = file.resolveSibling(file.getFileName() + ".etag");
            if (Files.isRegularFile(file) && Files.size(file) == object.size() && Files.isRegularFile(tag)
                    && Files.readString(tag).equals(object.eTag())) {
                continue; // this very object was downloaded before
            }
            Files.createDirectories(file.getParent());
            Path temporary = Files.createTempFile(file.getParent(), ".download-", ".part");
            try (var in = s3.getObject(request -> request.bucket(bucket).key(object.key()))) {
                Files.copy(in, temporary, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            Files.deleteIfExists(tag); // a crash between the two moves leaves no tag, so the file is fetched again
            Files.move(temporary, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(tag, object.eTag());
        }
        return target;
    }

    private static Path realOrSelf(Path root) {
        try {
            return root.toRealPath();
        } catch (IOException e) {
            return root;
        }
    }
}
