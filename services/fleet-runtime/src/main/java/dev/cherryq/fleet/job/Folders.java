package dev.cherryq.fleet.job;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Scratch-folder housekeeping. */
public final class Folders {

    private Folders() {}

    /** Bytes of every regular file under {@code folder} (0 when it does not exist). */
    public static long sizeOf(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            return 0;
        }
        long bytes = 0;
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path path : walk.filter(Files::isRegularFile).toList()) {
                bytes += Files.size(path);
            }
        }
        return bytes;
    }

    public static void deleteRecursively(Path folder) throws IOException {
        dev.cherryq.core.format.OutputFolders.deleteRecursively(folder);
    }
}
