package dev.cherryq.fleet.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReferenceResolverTest {

    @TempDir
    Path directory;

    private ReferenceResolver resolver() throws Exception {
        Path models = Files.createDirectories(directory.resolve("models/demo"));
        Path data = Files.createDirectories(directory.resolve("data"));
        Files.writeString(data.resolve("train.txt"), "text");
        Files.writeString(directory.resolve("secret.txt"), "secret");
        Files.createSymbolicLink(data.resolve("link.txt"), directory.resolve("secret.txt"));
        return new ReferenceResolver(List.of(models.getParent().toRealPath()), List.of(data.toRealPath()),
                List.of("allowed-bucket"), null, directory.resolve("downloads"), null);
    }

    @Test
    void shouldResolveRelativeAbsoluteAndFileReferencesInsideTheRoots() throws Exception {
        ReferenceResolver resolver = resolver();
        Path expected = directory.resolve("data/train.txt").toRealPath();
        assertEquals(expected, resolver.data("train.txt"));
        assertEquals(expected, resolver.data(expected.toString()));
        assertEquals(expected, resolver.data(expected.toUri().toString()));
        assertEquals(directory.resolve("models/demo").toRealPath(), resolver.model("demo"));
    }

    @Test
    void shouldRefuseEveryWayOutOfTheRoots() throws Exception {
        ReferenceResolver resolver = resolver();
        for (String hostile : List.of("../../etc/passwd", "/etc/passwd", "file:///etc/shadow", "../secret.txt",
                "file://evil.example/share/x", "http://example.com/model")) {
            InvalidInputException error = assertThrows(InvalidInputException.class, () -> resolver.data(hostile),
                    hostile);
            assertTrue(error.getMessage().contains(hostile), error.getMessage());
        }
        InvalidInputException link = assertThrows(InvalidInputException.class, () -> resolver.data("link.txt"));
        assertTrue(link.getMessage().contains("through a link"), link.getMessage());
        InvalidInputException bucket = assertThrows(InvalidInputException.class,
                () -> resolver.model("s3://other-bucket/models/demo"));
        assertTrue(bucket.getMessage().contains("not in the allow-list"), bucket.getMessage());
        InvalidInputException missing = assertThrows(InvalidInputException.class, () -> resolver.model("absent"));
        assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
    }
}
