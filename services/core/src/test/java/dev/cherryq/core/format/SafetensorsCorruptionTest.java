package dev.cherryq.core.format;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every corrupt-file case gets an {@link InvalidInputException} that names the file and the field. */
class SafetensorsCorruptionTest {

    @TempDir
    Path dir;

    @Test
    void shouldRejectHeaderLengthPastEndOfFile() throws IOException {
        Path file = raw("huge-header.safetensors", 1_000_000, "{}", 0);
        assertRejected(file, "header length", "past the end");
    }

    @Test
    void shouldRejectFileTooShortForHeaderLength() throws IOException {
        Path file = dir.resolve("tiny.safetensors");
        Files.write(file, new byte[] {1, 2, 3});
        assertRejected(file, "header length", "too short");
    }

    @Test
    void shouldRejectOffsetsOutOfRange() throws IOException {
        Path file = raw("range.safetensors", -1, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        assertRejected(file, "tensor 'w' data_offsets", "out of range");
    }

    @Test
    void shouldRejectOverlappingOffsets() throws IOException {
        Path file = raw("overlap.safetensors", -1, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertRejected(file, "data_offsets", "overlaps");
    }

    @Test
    void shouldRejectUnknownDtype() throws IOException {
        Path file = raw("dtype.safetensors", -1, "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        assertRejected(file, "tensor 'w' dtype", "unknown dtype 'F8_E4M3'");
    }

    @Test
    void shouldRejectShapeThatDisagreesWithByteRange() throws IOException {
        Path file = raw("shape.safetensors", -1, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertRejected(file, "tensor 'w' data_offsets", "does not match shape");
    }

    @Test
    void shouldRejectHeaderThatIsNotJson() throws IOException {
        Path file = raw("json.safetensors", -1, "{not json", 0);
        assertRejected(file, "header", "not valid JSON");
    }

    @Test
    void shouldRejectMissingFile() {
        assertRejected(dir.resolve("absent.safetensors"), "absent.safetensors", "not found");
    }

    /** Writes a header (length given, or the true one when -1), then dataBytes zero bytes. */
    private Path raw(String name, long declaredLength, String header, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(declaredLength < 0 ? json.length : declaredLength).put(json);
        Path file = dir.resolve(name);
        Files.write(file, buffer.array());
        return file;
    }

    private static void assertRejected(Path file, String field, String problem) {
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> SafetensorsFile.open(file).close());
        String message = error.getMessage();
        assertTrue(message.contains(file.getFileName().toString()), "message names the file: " + message);
        assertTrue(message.contains(field), "message names the field '" + field + "': " + message);
        assertTrue(message.contains(problem), "message says '" + problem + "': " + message);
        assertTrue(!message.contains("\n"), "one line: " + message);
    }
}
