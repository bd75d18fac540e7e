package dev.cherryq.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading the families from config.json (the hand-written configs in test resources families/), the refusals'
 * messages, and Llama-3's RoPE frequencies against numbers worked out by hand from the published formula.
 */
class ModelFamilyTest {

    private static final String SUPPORTED =
            "(supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)";

    @TempDir
    Path dir;

    @Test
    void shouldReadLlama3WithItsRopeScalingAndTiedHead() {
        LlamaConfig config = RandomLlama.family("llama-3.2");
        assertEquals(ModelFamily.Architecture.LLAMA, config.family().architecture());
        assertEquals(new ModelFamily.Llama3RopeScaling(32.0, 1.0, 4.0, 64), config.family().ropeScaling());
        assertEquals(500000.0, config.ropeTheta());
        assertTrue(config.tieWordEmbeddings());
        assertEquals(16, config.headDim());
        assertEquals(1, config.eosTokenId(), "the first of eos_token_id's list");
        assertFalse(config.family().queryKeyValueBiases() || config.family().queryKeyNorms()
                || config.family().hasSlidingWindow());
    }

    @Test
    void shouldReadMistralWithItsWindow() {
        LlamaConfig config = RandomLlama.family("mistral");
        assertEquals(ModelFamily.Architecture.MISTRAL, config.family().architecture());
        assertEquals(8, config.family().slidingWindow());
        assertNull(config.family().ropeScaling());
        assertEquals(8, config.headDim(), "hidden_size / num_attention_heads when head_dim is absent");
        assertFalse(config.tieWordEmbeddings());
        ObjectNode json = RandomLlama.familyConfigJson("mistral");
        json.putNull("sliding_window");
        assertEquals(0, RandomLlama.parse(json).family().slidingWindow(), "null: full causal attention");
    }

    @Test
    void shouldReadQwen2WithBiasesAndNoWindow() {
        LlamaConfig config = RandomLlama.family("qwen2.5");
        assertEquals(ModelFamily.Architecture.QWEN2, config.family().architecture());
        assertTrue(config.family().queryKeyValueBiases());
        assertFalse(config.family().queryKeyNorms());
        assertEquals(0, config.family().slidingWindow(), "sliding_window 256 is unused under use_sliding_window false");
        assertEquals(1e-6, config.rmsNormEps());
        assertEquals(1_000_000.0, config.ropeTheta());
        List<String> names = LlamaTensorNames.expected(config).stream().map(LlamaTensorNames.NamedShape::name).toList();
        assertTrue(names.containsAll(List.of("model.layers.2.self_attn.q_proj.bias", "model.layers.2.self_attn.k_proj.bias",
                "model.layers.2.self_attn.v_proj.bias")), names.toString());
        assertFalse(names.contains("model.layers.0.self_attn.o_proj.bias"));
        assertArrayEquals(new long[] {16}, shapeOf(config, "model.layers.0.self_attn.k_proj.bias"), "kv heads x head_dim");
        assertEquals(LlamaTensorNames.linearWeights(config).size(), 7 * 3, "biases are not quantizable weights");
    }

    @Test
    void shouldReadQwen3WithItsHeadDimAndQkNorms() {
        LlamaConfig config = RandomLlama.family("qwen3");
        assertEquals(ModelFamily.Architecture.QWEN3, config.family().architecture());
        assertEquals(16, config.headDim());
        assertEquals(64, config.queryDim());
        assertTrue(config.family().queryKeyNorms());
        assertFalse(config.family().queryKeyValueBiases());
        assertArrayEquals(new long[] {16}, shapeOf(config, "model.layers.1.self_attn.q_norm.weight"));
        assertArrayEquals(new long[] {16}, shapeOf(config, "model.layers.1.self_attn.k_norm.weight"));
        assertArrayEquals(new long[] {32, 64}, shapeOf(config, "model.layers.1.self_attn.o_proj.weight"));
        long norms = 3 * (2 * 32 + 2 * 16) + 32;
        long linear = 3 * (2L * 64 * 32 + 2L * 32 * 32 + 3L * 80 * 32);
        assertEquals(96L * 32 + linear + norms, config.parameterCount());
    }

    @Test
    void shouldWriteEachFamilysConfigSoThatItReadsBackTheSame() {
        for (String family : RandomLlama.FAMILIES) {
            LlamaConfig config = RandomLlama.family(family);
            assertEquals(config, RandomLlama.parse(config.toHfJson()), family);
        }
        LlamaConfig llama2 = RandomLlama.tinyConfig(false);
        assertEquals(llama2, RandomLlama.parse(llama2.toHfJson()));
    }

    @Test
    void shouldRefuseOtherArchitecturesNamingTheSupportedOnes() {
        assertRefused("llama-3.2", json -> json.putArray("architectures").add("GemmaForCausalLM"),
                "architectures ['GemmaForCausalLM'] is not supported " + SUPPORTED);
        assertRefused("qwen3", json -> json.putArray("architectures").add("Qwen3MoeForCausalLM"),
                "architectures ['Qwen3MoeForCausalLM'] is not supported " + SUPPORTED);
        assertRefused("qwen2.5", json -> json.put("model_type", "gpt2"),
                "model_type 'gpt2' is not supported (supported: llama, mistral, qwen2, qwen3)");
        assertRefused("qwen2.5", json -> json.put("model_type", "llama"),
                "model_type 'llama' does not match architectures ['Qwen2ForCausalLM'] (expected 'qwen2')");
        assertRefused("mistral", json -> {
            json.remove("architectures");
            json.put("model_type", "gemma");
        }, "architectures is missing and model_type 'gemma' is not supported (supported architectures: "
                + "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");
        ObjectNode byModelType = RandomLlama.familyConfigJson("qwen3");
        byModelType.remove("architectures");
        assertEquals(ModelFamily.Architecture.QWEN3, RandomLlama.parse(byModelType).family().architecture());
    }

    @Test
    void shouldRefuseRopeScalingOtherThanLlama3() {
        assertRefused("llama-3.2", json -> ((ObjectNode) json.get("rope_scaling")).put("rope_type", "yarn"),
                "rope_scaling.rope_type 'yarn' is not supported (supported: llama3, or rope_scaling null)");
        assertRefused("qwen2.5", json -> json.putObject("rope_scaling").put("type", "linear").put("factor", 2.0),
                "rope_scaling.rope_type 'linear' is not supported (supported: llama3, or rope_scaling null)");
        assertRefused("llama-3.2", json -> ((ObjectNode) json.get("rope_scaling")).remove("low_freq_factor"),
                "rope_scaling.low_freq_factor must be a number for rope_type llama3, got nothing");
        assertRefused("llama-3.2", json -> ((ObjectNode) json.get("rope_scaling")).put("high_freq_factor", 1.0),
                "needs factor > 0, 0 < low_freq_factor < high_freq_factor");
        ObjectNode legacy = RandomLlama.familyConfigJson("llama-3.2");
        ObjectNode scaling = (ObjectNode) legacy.get("rope_scaling");
        scaling.remove("rope_type");
        scaling.put("type", "llama3");
        assertEquals(RandomLlama.family("llama-3.2"), RandomLlama.parse(legacy), "the older key 'type'");
    }

    @Test
    void shouldRefuseBiasesAndWindowsTheFamilyDoesNotHave() {
        assertRefused("qwen3", json -> json.put("attention_bias", true), "attention_bias = true is not supported for "
                + "Qwen3ForCausalLM (supported: false; q/k/v biases are read for Qwen2ForCausalLM only)");
        assertRefused("llama-3.2", json -> json.put("mlp_bias", true), "mlp_bias = true is not supported for "
                + "LlamaForCausalLM");
        assertRefused("qwen2.5", json -> json.put("use_sliding_window", true), "use_sliding_window = true is not "
                + "supported for Qwen2ForCausalLM (supported: false; its windowed layers depend on max_window_layers)");
        assertRefused("mistral", json -> json.put("sliding_window", 0),
                "sliding_window = 0 is invalid (must be a positive integer, or null for full attention)");
        assertRefused("mistral", json -> json.putArray("layer_types").add("full_attention").add("sliding_attention"),
                "layer_types 'sliding_attention' is not supported (supported: full_attention in every layer)");
        assertRefused("qwen3", json -> json.remove("head_dim"), "required field 'head_dim' is missing "
                + "(Qwen3ForCausalLM does not derive it from hidden_size / num_attention_heads)");
    }

    @Test
    void shouldNameTheFileInOneLineWhenReadFromDisk() throws IOException {
        ObjectNode json = RandomLlama.familyConfigJson("qwen2.5");
        json.putArray("architectures").add("Phi3ForCausalLM");
        Path file = dir.resolve("config.json");
        Files.writeString(file, json.toString());
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> LlamaConfig.read(file));
        assertEquals(file + ": architectures ['Phi3ForCausalLM'] is not supported " + SUPPORTED, error.getMessage());
    }

    /**
     * Llama-3.1-8B's published rope settings (theta 500000, head_dim 128, factor 8, low_freq_factor 1,
     * high_freq_factor 4, original_max_position_embeddings 8192): wavelengths under 8192 / 4 = 2048 are kept, over
     * 8192 / 1 are divided by 8, between them f' = (1 - s) f / 8 + s f with s = (8192 / wavelength - 1) / 3.
     * Expected values worked out from these rules, not from the code.
     */
    @Test
    void shouldScaleRopeFrequenciesAsTheLlama3FormulaGives() {
        ModelFamily family = new ModelFamily(ModelFamily.Architecture.LLAMA,
                new ModelFamily.Llama3RopeScaling(8.0, 1.0, 4.0, 8192), 0);
        double[] scaled = family.inverseFrequencies(500000.0, 128);
        assertEquals(64, scaled.length);
        // i = 0: f = 1, wavelength 2 pi: high, kept
        assertEquals(1.0, scaled[0], 1e-15);
        // i = 20: f = 500000^(-40/128) = 0.016560440081, wavelength 379.41 < 2048: kept
        assertEquals(0.016560440080994446, scaled[20], 1e-15);
        // i = 29: f = 500000^(-58/128) = 0.0026160992529, wavelength 2401.74; s = (8192/2401.74 - 1)/3 = 0.803621
        assertEquals(0.002166570763503359, scaled[29], 1e-14);
        // i = 30: f = 0.0021311195369, wavelength 2948.30; s = 0.592849
        assertEquals(0.0013718935677611381, scaled[30], 1e-14);
        // i = 32: f = 1 / sqrt(500000) = 0.0014142135624, wavelength 4442.88; s = (1.843838 - 1) / 3 = 0.281283
        assertEquals(0.0005248461609929547, scaled[32], 1e-14);
        // i = 34: f = 0.00093847387036, wavelength 6695.11; s = 0.0745266
        assertEquals(0.0001785078127679964, scaled[34], 1e-15);
        // i = 35: f = 0.00076449698832, wavelength 8218.72 > 8192: low, f / 8
        assertEquals(9.556212353964683e-05, scaled[35], 1e-16);
        // i = 63: f = 500000^(-126/128) = 2.4551407911e-6: low, f / 8
        assertEquals(3.068925988914511e-07, scaled[63], 1e-18);
        // and without rope_scaling the plain theta^(-2i/d)
        assertEquals(0.0014142135623730952, ModelFamily.LLAMA_2.inverseFrequencies(500000.0, 128)[32], 1e-15);
    }

    private static long[] shapeOf(LlamaConfig config, String name) {
        return LlamaTensorNames.expected(config).stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow()
                .shape();
    }

    private static void assertRefused(String family, Consumer<ObjectNode> edit, String expected) {
        ObjectNode json = RandomLlama.familyConfigJson(family);
        edit.accept(json);
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> RandomLlama.parse(json));
        assertTrue(error.getMessage().contains(expected), error.getMessage());
        assertFalse(error.getMessage().contains("\n"), "one line: " + error.getMessage());
    }
}
