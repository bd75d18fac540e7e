package dev.cherryq.core.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    @Test
    void shouldRoundTripF32F16AndBf16WithAlignedHeaderAndMetadata() throws IOException {
        Random random = new Random(1);
        float[] values = new float[3 * 5];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian() * 3;
        }
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter.write(file, Map.of("producer", "test"), List.of(
                TensorData.ofFloats("a.f32", DType.F32, new long[] {3, 5}, values),
                TensorData.ofFloats("b.f16", DType.F16, new long[] {15}, values),
                TensorData.ofFloats("c.bf16", DType.BF16, new long[] {5, 3}, values)));

        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "header must be padded to 8 bytes");
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        assertEquals("test", header.get("__metadata__").get("producer").asText());

        try (SafetensorsFile read = SafetensorsFile.open(file)) {
            assertEquals(Map.of("producer", "test"), read.metadata());
            assertArrayEquals(values, read.readFloats("a.f32"));
            assertArrayEquals(new long[] {5, 3}, read.info("c.bf16").shape());
            float[] f16 = read.readFloats("b.f16");
            float[] bf16 = read.readFloats("c.bf16");
            // a range of elements, each type: the same values as the whole tensor's at those places
            for (String name : List.of("a.f32", "b.f16", "c.bf16")) {
                assertArrayEquals(java.util.Arrays.copyOfRange(read.readFloats(name), 4, 11),
                        read.readFloats(name, 4, 7), name);
            }
            org.junit.jupiter.api.Assertions.assertThrows(dev.cherryq.core.InvalidInputException.class,
                    () -> read.readFloats("b.f16", 10, 6), "past the end of the tensor");
            for (int i = 0; i < values.length; i++) {
                assertEquals(HalfPrecision.roundToF16(values[i]), f16[i], 0f);
                assertEquals(HalfPrecision.roundToBf16(values[i]), bf16[i], 0f);
                // bf16 keeps 8 significant bits: rounding error at most half an ulp, 2^-8 relative
                assertTrue(Math.abs(bf16[i] - values[i]) <= Math.abs(values[i]) * 0x1p-8f);
            }
        }
    }

    @Test
    void shouldReadShardedIndexAsOneCheckpoint() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = RandomLlama.weights(config, 5);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.get(tensor.name())));
        }
        Path folder = dir.resolve("sharded");
        HfModelWriter.write(folder, config, null, tensors, Map.of(), 4000); // small shards: several files
        assertTrue(Files.exists(folder.resolve(ShardedSafetensors.INDEX_FILE)));
        assertTrue(folder.resolve("model-00002-of-" + String.format("%05d", countShards(folder)) + ".safetensors")
                .toFile().exists());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder)) {
            assertEquals("hf-safetensors-sharded", checkpoint.format());
            assertEquals(config, checkpoint.config());
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                float[] expected = weights.get(tensor.name()).clone();
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = HalfPrecision.roundToBf16(expected[i]);
                }
                assertArrayEquals(expected, checkpoint.tensors().readFloats(tensor.name()), tensor.name());
            }
        }
    }

    private static int countShards(Path folder) {
        return (int) folder.toFile().list((d, name) -> name.startsWith("model-") && name.endsWith(".safetensors")).length;
    }
}
