package dev.cherryq.it.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Debian packages for tools the tests drive (prometheus, kcat): fetched with {@code apt-get download} into the
 * git-ignored cache on first use and unpacked with {@code dpkg -x} (no root, nothing installed; FACTS.md).
 */
public final class DebianPackages {

    private DebianPackages() {}

    /**
     * Unpacks {@code packages} (fetched into {@code cherryq.cache.dir/<cacheName>} when not there yet) into
     * {@code unpacked} and returns it: binaries under usr/bin, libraries under usr/lib/x86_64-linux-gnu.
     */
    public static Path unpack(String cacheName, List<String> packages, Path unpacked) throws Exception {
        Path cache = Path.of(System.getProperty("cherryq.cache.dir", ".cache")).resolve(cacheName);
        Files.createDirectories(cache);
        Files.createDirectories(unpacked);
        for (String name : packages) {
            Path deb = cached(cache, name);
            if (deb == null) {
                run(cache, "apt-get", "download", name);
                deb = cached(cache, name);
                if (deb == null) {
                    throw new IllegalStateException("apt-get download " + name + " left no .deb in " + cache);
                }
            }
            run(unpacked.getParent(), "dpkg", "-x", deb.toString(), unpacked.toString());
        }
        return unpacked;
    }

    private static Path cached(Path cache, String name) throws IOException {
        try (Stream<Path> files = Files.list(cache)) {
            return files.filter(f -> f.getFileName().toString().startsWith(name + "_")
                    && f.getFileName().toString().endsWith(".deb")).findFirst().orElse(null);
        }
    }

    /** Runs a command to its end (at most 2 minutes) and returns its output; throws with the output on failure. */
    public static String run(Path workingDirectory, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (workingDirectory != null) {
            Files.createDirectories(workingDirectory);
            builder.directory(workingDirectory.toFile());
        }
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new IllegalStateException(command[0] + " is needed to fetch and unpack Debian packages: " + e, e);
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed:\n" + output);
        }
        return output;
    }
}
