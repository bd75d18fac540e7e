package dev.cherryq.fleet.storage;

import dev.cherryq.proto.v1.TensorRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The embedded default store: objects are files under one root folder. Writes go to a temporary file in the same
 * folder and are renamed into place, so a reader never sees half an object and a redone write replaces the old one.
 * References whose path leaves the root are refused.
 */
public final class FilesystemObjectStore implements ObjectStore {

    private final Path root;

    public FilesystemObjectStore(Path root) throws IOException {
        this.root = Files.createDirectories(root.toAbsolutePath().normalize()).toRealPath();
    }

    @Override
    public TensorRef put(String key, Path source, String mediaType, String dtype, long... shape) throws IOException {
        Path target = pathOf(key);
        Files.createDirectories(target.getParent());
        Path temporary = Files.createTempFile(target.getParent(), ".upload-", ".part");
        MessageDigest digest = Digests.newSha256();
        long length = 0;
        try (InputStream in = Files.newInputStream(source); OutputStream out = Files.newOutputStream(temporary)) {
            byte[] buffer = new byte[1 << 20];
            for (int read; (read = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, read);
                out.write(buffer, 0, read);
                length += read;
            }
        } catch (IOException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return reference(key, length, Digests.hex(digest), mediaType, dtype, shape);
    }

    @Override
    public TensorRef putBytes(String key, byte[] bytes, String mediaType) throws IOException {
        Path target = pathOf(key);
        Files.createDirectories(target.getParent());
        Path temporary = Files.createTempFile(target.getParent(), ".upload-", ".part");
        Files.write(temporary, bytes);
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return reference(key, bytes.length, Digests.sha256(bytes), mediaType, "");
    }

    @Override
    public Path fetch(TensorRef ref, Path cacheDirectory) throws IOException {
        Path file = pathOfUri(ref.getUri());
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(ref.getUri() + ": object not found in the store");
        }
        Digests.verify(ref.getUri(), ref.getByteLength(), ref.getSha256(), Files.size(file), Digests.sha256(file));
        return file;
    }

    @Override
    public byte[] fetchBytes(TensorRef ref) throws IOException {
        Path file = pathOfUri(ref.getUri());
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(ref.getUri() + ": object not found in the store");
        }
        byte[] bytes = Files.readAllBytes(file);
        Digests.verify(ref.getUri(), ref.getByteLength(), ref.getSha256(), bytes.length, Digests.sha256(bytes));
        return bytes;
    }

    @Override
    public Optional<TensorRef> stat(String key, String mediaType) throws IOException {
        Path file = pathOf(key);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        return Optional.of(reference(key, Files.size(file), Digests.sha256(file), mediaType, ""));
    }

    @Override
    public Optional<byte[]> readIfExists(String key) throws IOException {
        Path file = pathOf(key);
        try {
            return Optional.of(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        Path start = pathOf(prefix.endsWith("/") ? prefix + "x" : prefix).getParent();
        if (!Files.isDirectory(start)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(start)) {
            return files.filter(Files::isRegularFile)
                    .filter(file -> !file.getFileName().toString().startsWith(".upload-"))
                    .map(file -> root.relativize(file).toString().replace('\\', '/'))
                    .filter(key -> key.startsWith(prefix)).sorted().toList();
        }
    }

    @Override
    public String uri(String key) {
        return pathOf(key).toUri().toString();
    }

    @Override
    public String describe() {
        return "filesystem " + root;
    }

    @Override
    public void close() {}

    private TensorRef reference(String key, long length, String sha256, String mediaType, String dtype, long... shape) {
        return ObjectStore.reference(uri(key), length, sha256, mediaType, dtype, shape);
    }

    private Path pathOf(String key) {
        Path path = root.resolve(key).normalize();
        if (!path.startsWith(root) || path.equals(root)) {
            throw new IntegrityException("object key '" + key + "' leaves the store root " + root);
        }
        return path;
    }

    private Path pathOfUri(String uri) {
        Path path;
        try {
            path = Path.of(URI.create(uri)).normalize();
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            throw new IntegrityException("'" + uri + "' is not a file: URI of this store");
        }
        if (!path.startsWith(root)) {
            throw new IntegrityException("'" + uri + "' is outside the store root " + root);
        }
        return path;
    }
}
