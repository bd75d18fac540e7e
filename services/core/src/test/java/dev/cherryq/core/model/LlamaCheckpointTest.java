package dev.cherryq.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCheckpointTest {

    @TempDir
    Path dir;

    private Path writeRandomModel(String name, LlamaConfig config, java.util.function.UnaryOperator<long[]> shapeEdit) {
        Map<String, float[]> weights = RandomLlama.weights(config, 1);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            long[] shape = tensor.name().endsWith("k_proj.weight") && tensor.name().contains(".1.")
                    ? shapeEdit.apply(tensor.shape()) : tensor.shape();
            float[] values = weights.get(tensor.name());
            tensors.add(TensorData.ofFloats(tensor.name(), DType.F16, shape, values));
        }
        Path folder = dir.resolve(name);
        HfModelWriter.write(folder, config, null, tensors, Map.of(), Long.MAX_VALUE);
        return folder;
    }

    @Test
    void shouldOpenHfFolderAndReportConfig() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Path folder = writeRandomModel("ok", config, s -> s);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder)) {
            assertEquals(config, checkpoint.config());
            assertEquals(DType.F16, checkpoint.tensors().info(LlamaTensorNames.EMBED_TOKENS).dtype());
        }
    }

    @Test
    void shouldRejectShapeThatDisagreesWithConfig() {
        Path folder = writeRandomModel("bad-shape", RandomLlama.tinyConfig(false), s -> new long[] {s[1], s[0]});
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(folder));
        assertTrue(error.getMessage().contains("model.safetensors"), error.getMessage());
        assertTrue(error.getMessage().contains("model.layers.1.self_attn.k_proj.weight"), error.getMessage());
        assertTrue(error.getMessage().contains("config.json implies [16, 24]"), error.getMessage());
    }

    @Test
    void shouldRejectUnsupportedModelTypeNamingFileAndField() throws IOException {
        Path folder = writeRandomModel("gpt2", RandomLlama.tinyConfig(false), s -> s);
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(folder.resolve("config.json").toFile());
        config.put("model_type", "gpt2");
        Files.writeString(folder.resolve("config.json"), config.toString());
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(folder));
        assertTrue(error.getMessage().contains("config.json") && error.getMessage().contains("model_type 'gpt2'"),
                error.getMessage());
    }

    @Test
    void shouldRejectUnsupportedArchitectureAndMissingField() throws IOException {
        Path folder = writeRandomModel("arch", RandomLlama.tinyConfig(false), s -> s);
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(folder.resolve("config.json").toFile());
        config.putArray("architectures").add("LlamaForSequenceClassification");
        Files.writeString(folder.resolve("config.json"), config.toString());
        assertTrue(assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(folder)).getMessage()
                .contains("LlamaForSequenceClassification"));
        config.putArray("architectures").add("LlamaForCausalLM");
        config.remove("hidden_size");
        Files.writeString(folder.resolve("config.json"), config.toString());
        assertTrue(assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(folder)).getMessage()
                .contains("'hidden_size' is missing"));
    }

    @Test
    void shouldRejectMissingPathAndFolderWithoutWeights() throws IOException {
        assertTrue(assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(dir.resolve("nope")))
                .getMessage().contains("no such file or folder"));
        Path folder = writeRandomModel("noweights", RandomLlama.tinyConfig(true), s -> s);
        Files.delete(folder.resolve("model.safetensors"));
        assertTrue(assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(folder)).getMessage()
                .contains("no model.safetensors"));
    }

    @Test
    void shouldRejectTruncatedLlama2cCheckpoint() throws IOException {
        byte[] real = Files.readAllBytes(TestFixtures.stories260k());
        Path truncated = dir.resolve("truncated.bin");
        Files.write(truncated, java.util.Arrays.copyOf(real, real.length / 2));
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(truncated));
        assertTrue(error.getMessage().contains("truncated.bin") && error.getMessage().contains("truncated"),
                error.getMessage());
    }

    @Test
    void shouldConvertLlama2cToHfFolderThatLoadsToTheSameWeights() {
        Path bin = TestFixtures.stories260k();
        Path folder = dir.resolve("converted");
        try (LlamaCheckpoint source = LlamaCheckpoint.open(bin)) {
            List<TensorData> tensors = new ArrayList<>();
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(source.config())) {
                tensors.add(TensorData.ofFloats(tensor.name(), DType.F32, tensor.shape(),
                        source.tensors().readFloats(tensor.name())));
            }
            HfModelWriter.write(folder, source.config(), null, tensors, Map.of(), Long.MAX_VALUE);
            try (LlamaCheckpoint converted = LlamaCheckpoint.open(folder)) {
                assertEquals(source.config(), converted.config());
                assertTrue(converted.config().tieWordEmbeddings());
                for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(source.config())) {
                    assertArrayEquals(source.tensors().readFloats(tensor.name()),
                            converted.tensors().readFloats(tensor.name()), tensor.name());
                }
            }
        }
    }

    @Test
    void shouldPermuteInterleavedRowsToHalvesLikeHfConversion() {
        // one head of size 4, rows r0..r3 (pairs (r0,r1), (r2,r3)) become (r0, r2, r1, r3); 2 columns per row
        float[] weight = {0, 0, 1, 1, 2, 2, 3, 3};
        assertArrayEquals(new float[] {0, 0, 2, 2, 1, 1, 3, 3}, Llama2cCheckpoint.interleavedToHalves(weight, 1, 2));
    }
}
