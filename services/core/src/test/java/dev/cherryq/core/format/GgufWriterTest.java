package dev.cherryq.core.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link GgufWriter} and {@link GgmlType} against {@link GgufTestReader}, a reader written from the GGUF spec that
 * shares no code with the writer, and against the block definitions of Q8_0 and Q4_0 (scale, codes, nibble order)
 * written out here.
 */
class GgufWriterTest {

    @TempDir
    Path dir;

    @Test
    void shouldWriteHeaderMetadataAndAlignedTensorsThatAnIndependentReaderReadsBack() throws IOException {
        Random random = new Random(3);
        float[] odd = gaussian(random, 3 * 5, 2); // 60 bytes: the next tensor needs padding
        float[] half = gaussian(random, 7, 1); // 14 bytes
        float[] q8 = gaussian(random, 2 * 64, 0.1f);
        float[] q4 = gaussian(random, 3 * 32, 5);
        Path file = dir.resolve("t.gguf");
        new GgufWriter()
                .putString("general.architecture", "test")
                .putUint32("test.count", 4_000_000_000L)
                .putInt32("test.negative", -5)
                .putFloat32("test.eps", 1e-5f)
                .putBool("test.flag", true)
                .putStringArray("test.words", List.of("a", "\u2581\u00fcn\u00ef", ""))
                .putFloat32Array("test.scores", new float[] {0f, -1.5f})
                .putInt32Array("test.types", new int[] {1, 6, 3})
                .addTensor("odd", new long[] {3, 5}, GgmlType.F32, () -> odd)
                .addTensor("half", new long[] {7}, GgmlType.F16, () -> half)
                .addTensor("q8", new long[] {2, 64}, GgmlType.Q8_0, () -> q8)
                .addTensor("q4", new long[] {3, 32}, GgmlType.Q4_0, () -> q4)
                .write(file);

        GgufTestReader read = GgufTestReader.read(file);
        // header and metadata, with their value types
        assertEquals(3, read.version);
        assertEquals(32L, read.metadata.get("general.alignment"));
        assertEquals(4, read.valueTypes.get("general.alignment"), "general.alignment is a uint32");
        assertEquals("test", read.metadata.get("general.architecture"));
        assertEquals(4_000_000_000L, read.metadata.get("test.count"));
        assertEquals(-5, read.metadata.get("test.negative"));
        assertEquals(1e-5f, read.metadata.get("test.eps"));
        assertEquals(true, read.metadata.get("test.flag"));
        assertEquals(List.of("a", "\u2581\u00fcn\u00ef", ""), read.metadata.get("test.words"));
        assertEquals(8, read.arrayElementTypes.get("test.words"));
        assertEquals(List.of(0f, -1.5f), read.metadata.get("test.scores"));
        assertEquals(6, read.arrayElementTypes.get("test.scores"));
        assertEquals(List.of(1, 6, 3), read.metadata.get("test.types"));
        assertEquals(5, read.arrayElementTypes.get("test.types"));

        // tensor infos: dims in ggml order (row length first), type ids, aligned offsets
        assertEquals(List.of("odd", "half", "q8", "q4"), read.tensors.stream().map(GgufTestReader.Info::name).toList());
        assertArrayEquals(new long[] {5, 3}, read.tensor("odd").ne());
        assertArrayEquals(new long[] {7}, read.tensor("half").ne());
        assertArrayEquals(new long[] {64, 2}, read.tensor("q8").ne());
        assertArrayEquals(new long[] {32, 3}, read.tensor("q4").ne());
        assertEquals(List.of(0, 1, 8, 2), read.tensors.stream().map(GgufTestReader.Info::type).toList());
        assertEquals(0, read.dataStart % 32, "the data section starts aligned");
        long expectedOffset = 0;
        for (GgufTestReader.Info info : read.tensors) {
            assertEquals(expectedOffset, info.offset(), info.name() + "'s offset");
            long length = GgufTestReader.byteLength(info.type(), info.elements());
            long padded = (length + 31) / 32 * 32;
            for (long p = info.offset() + length; p < info.offset() + padded; p++) {
                assertEquals(0, read.byteAt(read.dataStart + p), "zero padding after " + info.name());
            }
            expectedOffset += padded;
        }
        assertEquals(read.dataStart + expectedOffset, read.fileLength(), "the data section ends the file, padded");

        // values: F32 exact, F16 rounded to nearest, block types decoded by definition equal to the writer's decode
        assertArrayEquals(odd, read.decode(read.tensor("odd")));
        float[] halfRead = read.decode(read.tensor("half"));
        for (int i = 0; i < half.length; i++) {
            assertEquals(HalfPrecision.roundToF16(half[i]), halfRead[i], 0f);
        }
        assertArrayEquals(GgmlType.Q8_0.roundTrip(q8), read.decode(read.tensor("q8")));
        assertArrayEquals(GgmlType.Q4_0.roundTrip(q4), read.decode(read.tensor("q4")));
        assertFalse(Files.exists(dir.resolve("t.gguf.partial")));
    }

    @Test
    void shouldEncodeQ80BlocksByTheDefinition() {
        // a hand-computed block: x_j = j - 16, so max|x| = 16, d = 16/127, q_j = round((j - 16) * 127 / 16)
        float[] ramp = new float[32];
        for (int j = 0; j < 32; j++) {
            ramp[j] = j - 16;
        }
        ByteBuffer block = GgmlType.Q8_0.encode(ramp);
        assertEquals(34, block.remaining());
        assertEquals(HalfPrecision.roundToF16(16f / 127f), GgufTestReader.half(block.getShort(0)), 0f);
        assertEquals(-127, block.get(2)); // x = -16
        assertEquals(-119, block.get(2 + 1)); // -15 * 127/16 = -119.06
        assertEquals(0, block.get(2 + 16));
        assertEquals(8, block.get(2 + 17)); // 127/16 = 7.94
        assertEquals(119, block.get(2 + 31));

        // random blocks of very different scales, and an all-zero block
        Random random = new Random(5);
        float[] values = new float[32 * 40];
        for (int block0 = 0; block0 < 39; block0++) {
            float scale = (float) Math.pow(10, random.nextInt(6) - 4);
            for (int j = 0; j < 32; j++) {
                values[block0 * 32 + j] = (float) random.nextGaussian() * scale;
            }
        }
        ByteBuffer encoded = GgmlType.Q8_0.encode(values);
        assertEquals(40 * 34, encoded.remaining());
        for (int b = 0; b < 40; b++) {
            float max = 0;
            for (int j = 0; j < 32; j++) {
                max = Math.max(max, Math.abs(values[b * 32 + j]));
            }
            float d = max / 127f;
            float storedD = GgufTestReader.half(encoded.getShort(b * 34));
            assertEquals(HalfPrecision.roundToF16(d), storedD, 0f, "block " + b + " scale");
            for (int j = 0; j < 32; j++) {
                int q = encoded.get(b * 34 + 2 + j);
                double exact = d == 0 ? 0 : values[b * 32 + j] / (double) d;
                assertTrue(Math.abs(q - exact) <= 0.5 + 1e-4, "block " + b + " element " + j + ": q " + q
                        + " for x/d " + exact);
            }
        }
    }

    @Test
    void shouldEncodeQ40BlocksByTheDefinitionWithLowNibblesFirst() {
        // a hand-computed block: x_j = (j mod 16) - 8, so the extreme is -8, d = -8 / -8 = 1 and q_j = j mod 16;
        // byte j holds element j (low nibble) and element j + 16 (high nibble): j | j << 4
        float[] levels = new float[32];
        for (int j = 0; j < 32; j++) {
            levels[j] = (j % 16) - 8;
        }
        ByteBuffer block = GgmlType.Q4_0.encode(levels);
        assertEquals(18, block.remaining());
        assertEquals((short) 0x3C00, block.getShort(0), "d = 1.0 in f16");
        for (int j = 0; j < 16; j++) {
            assertEquals((byte) (j | j << 4), block.get(2 + j), "byte " + j);
        }
        // distinct halves: elements 0..15 all level 0 (x = -8d) and 16..31 all level 15 (x = 7d): low nibbles 0, high 15
        float[] halves = new float[32];
        for (int j = 0; j < 32; j++) {
            halves[j] = j < 16 ? -0.8f : 0.7f;
        }
        ByteBuffer split = GgmlType.Q4_0.encode(halves);
        assertEquals(HalfPrecision.roundToF16(0.1f), GgufTestReader.half(split.getShort(0)), 0f);
        for (int j = 0; j < 16; j++) {
            assertEquals((byte) 0xF0, split.get(2 + j));
        }

        // random blocks: d = f16(m / -8), m the element of largest magnitude; q = clamp(floor(x/d + 8.5), 0, 15)
        Random random = new Random(7);
        float[] values = gaussian(random, 32 * 50, 0.05f);
        ByteBuffer encoded = GgmlType.Q4_0.encode(values);
        float[] decoded = GgmlType.Q4_0.decode(encoded, values.length);
        for (int b = 0; b < 50; b++) {
            float extreme = 0;
            for (int j = 0; j < 32; j++) {
                if (Math.abs(values[b * 32 + j]) > Math.abs(extreme)) {
                    extreme = values[b * 32 + j];
                }
            }
            float d = extreme / -8f;
            float storedD = GgufTestReader.half(encoded.getShort(b * 18));
            assertEquals(HalfPrecision.roundToF16(d), storedD, 0f, "block " + b + " scale");
            for (int j = 0; j < 32; j++) {
                int packed = encoded.get(b * 18 + 2 + j % 16) & 0xFF;
                int q = j < 16 ? packed & 0x0F : packed >> 4;
                double level = values[b * 32 + j] / (double) d + 8.5;
                int expected = (int) Math.max(0, Math.min(15, Math.floor(level)));
                boolean nearTie = Math.abs(level - Math.rint(level)) < 1e-4;
                assertTrue(q == expected || nearTie && Math.abs(q - expected) == 1, "block " + b + " element " + j
                        + ": q " + q + ", expected " + expected);
                assertEquals((q - 8) * storedD, decoded[b * 32 + j], 0f, "decoded value of block " + b + " element " + j);
            }
            int extremeIndex = indexOf(values, b * 32, extreme);
            assertEquals(-8 * storedD, decoded[extremeIndex], 0f, "the extreme sits on level -8");
        }
    }

    @Test
    void shouldRefuseRowsThatAreNotWholeBlocksAndLeaveNoFileWhenATensorFails() {
        GgufWriter writer = new GgufWriter();
        assertThrows(IllegalArgumentException.class,
                () -> writer.addTensor("w", new long[] {4, 40}, GgmlType.Q8_0, () -> new float[160]));
        assertThrows(IllegalArgumentException.class,
                () -> writer.addTensor("x".repeat(64), new long[] {4}, GgmlType.F32, () -> new float[4]));
        writer.addTensor("w", new long[] {4, 32}, GgmlType.Q4_0, () -> new float[3]); // wrong count: fails on write
        Path file = dir.resolve("bad.gguf");
        assertThrows(IllegalStateException.class, () -> writer.write(file));
        assertFalse(Files.exists(file));
        assertFalse(Files.exists(dir.resolve("bad.gguf.partial")));
    }

    private static int indexOf(float[] values, int from, float value) {
        for (int i = from; i < from + 32; i++) {
            if (values[i] == value) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }

    private static float[] gaussian(Random random, int n, float scale) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian() * scale;
        }
        return values;
    }
}
