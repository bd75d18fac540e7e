package dev.cherryq.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.HalfPrecision;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every family through the file formats: an HF folder of bf16 weights in two shards opens as the same family with
 * its biases and q/k norms; a missing bias is named; a packed quantized folder keeps the extra tensors in full
 * precision and its config.json reads back as the same family.
 */
class ModelFamilyCheckpointTest {

    @TempDir
    Path dir;

    @Test
    void shouldOpenEachFamilyFromTwoBf16ShardsAsTheSameFamily() {
        for (String family : RandomLlama.FAMILIES) {
            LlamaConfig config = RandomLlama.family(family);
            Map<String, float[]> weights = RandomLlama.weights(config, 2);
            Path folder = write(family, config, weights, null);
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder)) {
                assertEquals("hf-safetensors-sharded", checkpoint.format(), family);
                assertEquals(config, checkpoint.config(), family);
                for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                    float[] expected = weights.get(tensor.name()).clone();
                    for (int i = 0; i < expected.length; i++) {
                        expected[i] = HalfPrecision.roundToBf16(expected[i]);
                    }
                    assertArrayEquals(expected, checkpoint.tensors().readFloats(tensor.name()), tensor.name());
                }
                try (LlamaModel model = LlamaModel.load(checkpoint)) {
                    assertEquals(LlamaTensorNames.expected(config).size(), model.parameters().size(), family);
                }
            }
        }
    }

    @Test
    void shouldNameAMissingBiasOrQkNorm() {
        LlamaConfig qwen2 = RandomLlama.family("qwen2.5");
        Path folder = write("no-bias", qwen2, RandomLlama.weights(qwen2, 2), "model.layers.1.self_attn.v_proj.bias");
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(folder));
        assertTrue(error.getMessage().contains("tensor 'model.layers.1.self_attn.v_proj.bias' is missing"),
                error.getMessage());
        LlamaConfig qwen3 = RandomLlama.family("qwen3");
        Path other = write("no-norm", qwen3, RandomLlama.weights(qwen3, 2), "model.layers.2.self_attn.k_norm.weight");
        assertTrue(assertThrows(InvalidInputException.class, () -> LlamaCheckpoint.open(other)).getMessage()
                .contains("tensor 'model.layers.2.self_attn.k_norm.weight' is missing"));
    }

    @Test
    void shouldPackEachFamilyWithItsExtraTensorsInFullPrecisionAndReloadItAsTheSameFamily() {
        for (String family : RandomLlama.FAMILIES) {
            LlamaConfig config = RandomLlama.family(family);
            Map<String, float[]> weights = RandomLlama.weights(config, 4);
            Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(config);
            Map<String, float[]> linear = new LinkedHashMap<>();
            shapes.keySet().forEach(name -> linear.put(name, weights.get(name)));
            CherrySet cherries = CherrySelector.select(SelectionCriterion.MAGNITUDE, 1.0 / 16, linear, shapes, 1);
            QuantSpec spec = new QuantSpec(3, 16, QuantScheme.SYM_FULL);
            Path folder = dir.resolve("packed-" + family);
            PackedModel.write(folder, config, RandomLlama.tensors(config, weights), spec, cherries,
                    PackedModel.quantizationConfig("cherryq", spec, cherries), Map.of(), Progress.NONE);
            Map<String, float[]> unpacked = PackedModel.unpack(folder);
            try (LlamaCheckpoint reloaded = LlamaCheckpoint.open(folder)) {
                assertEquals(config, reloaded.config(), family + " reloads as itself");
                for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                    String name = tensor.name();
                    assertArrayEquals(unpacked.get(name), reloaded.tensors().readFloats(name), 0f, name);
                    if (!shapes.containsKey(name)) { // embeddings, norms, biases, q/k norms: exact
                        assertArrayEquals(weights.get(name), unpacked.get(name), 0f, name);
                    }
                }
            }
            String extra = config.family().queryKeyValueBiases() ? LlamaTensorNames.Projection.Q.biasName(0)
                    : config.family().queryKeyNorms() ? LlamaTensorNames.keyNorm(0) : null;
            if (extra != null) {
                assertTrue(unpacked.containsKey(extra), family + " carries " + extra);
            }
            assertFalse(java.util.Arrays.equals(weights.get(LlamaTensorNames.Projection.Q.tensorName(0)),
                    unpacked.get(LlamaTensorNames.Projection.Q.tensorName(0))), "q_proj is quantized");
        }
    }

    /** The weights as bf16 in two shards, without {@code left} when it is given. */
    private Path write(String name, LlamaConfig config, Map<String, float[]> weights, String left) {
        List<TensorData> tensors = new ArrayList<>();
        long total = 0;
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            if (!tensor.name().equals(left)) {
                TensorData data = TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.get(tensor.name()));
                tensors.add(data);
                total += data.byteLength();
            }
        }
        Path folder = dir.resolve(name);
        HfModelWriter.write(folder, config, null, tensors, Map.of(), total * 3 / 5);
        assertTrue(Files.exists(folder.resolve("model-00002-of-00002.safetensors")), "two shards");
        return folder;
    }
}
