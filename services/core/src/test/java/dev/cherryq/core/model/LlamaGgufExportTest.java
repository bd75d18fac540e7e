package dev.cherryq.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.format.GgufTestReader;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.Llama2cTokenizer;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF export's layout, read back with the spec-written {@link GgufTestReader}: llama.cpp's tensor names, ggml
 * dimension order, storage types, metadata, the q/k RoPE permutation, and the tokenizer vocabulary. Whether
 * llama.cpp computes the same function from the file is checked in the CLI's {@code GgufLlamaCppTest}.
 */
class LlamaGgufExportTest {

    @TempDir
    Path dir;

    @Test
    void shouldPermuteRotateHalfRowsToAdjacentPairsAsTheInverseOfTheLlama2cConversion() {
        // head size 4, one column: HF rows (x0, x1 | y0, y1) rotate pairs (x0, y0) and (x1, y1); llama.cpp wants them
        // adjacent: (x0, y0, x1, y1)
        float[] hf = {10, 11, 20, 21, /* second head */ 30, 31, 40, 41};
        assertArrayEquals(new float[] {10, 20, 11, 21, 30, 40, 31, 41}, LlamaGgufExport.halvesToInterleaved(hf, 2, 1));
        Random random = new Random(11);
        float[] weight = new float[4 * 32 * 5]; // (heads * head_size, columns)
        for (int i = 0; i < weight.length; i++) {
            weight[i] = random.nextFloat();
        }
        assertArrayEquals(weight, Llama2cCheckpoint.interleavedToHalves(
                LlamaGgufExport.halvesToInterleaved(weight, 4, 5), 4, 5));
        assertArrayEquals(weight, LlamaGgufExport.halvesToInterleaved(
                Llama2cCheckpoint.interleavedToHalves(weight, 4, 5), 4, 5));
        assertFalse(Arrays.equals(weight, LlamaGgufExport.halvesToInterleaved(weight, 4, 5)));
    }

    @Test
    void shouldWriteLlamaCppNamesShapesTypesMetadataAndPermutedQk() throws IOException {
        for (boolean tied : new boolean[] {false, true}) {
            for (GgmlType type : GgmlType.values()) {
                LlamaConfig config = RandomLlama.tinyConfig(tied); // hidden 24, ffn 40, head_dim 8 x 4 heads = 32
                Map<String, float[]> weights = RandomLlama.weights(config, 5);
                InMemoryTensors tensors = RandomLlama.tensors(config, weights);
                LlamaCheckpoint checkpoint = new LlamaCheckpoint(dir.resolve("tiny"), "random", config, tensors);
                Path file = dir.resolve("tiny-" + tied + "-" + type.cliName() + ".gguf");
                LlamaGgufExport.Result result = LlamaGgufExport.write(checkpoint, vocabulary(60), type, file,
                        Progress.NONE);
                GgufTestReader read = GgufTestReader.read(file);

                // metadata
                assertEquals("llama", read.metadata.get("general.architecture"));
                assertEquals(24L, read.metadata.get("llama.embedding_length"));
                assertEquals(40L, read.metadata.get("llama.feed_forward_length"));
                assertEquals(2L, read.metadata.get("llama.block_count"));
                assertEquals(4L, read.metadata.get("llama.attention.head_count"));
                assertEquals(2L, read.metadata.get("llama.attention.head_count_kv"));
                assertEquals(8L, read.metadata.get("llama.rope.dimension_count"));
                assertEquals(8L, read.metadata.get("llama.attention.key_length"), "head_dim is not 24 / 4");
                assertEquals(64L, read.metadata.get("llama.context_length"));
                assertEquals(67L, read.metadata.get("llama.vocab_size"));
                assertEquals(1e-5f, read.metadata.get("llama.attention.layer_norm_rms_epsilon"));
                assertEquals(10000f, read.metadata.get("llama.rope.freq_base"));
                assertEquals("llama", read.metadata.get("tokenizer.ggml.model"));
                List<?> tokens = (List<?>) read.metadata.get("tokenizer.ggml.tokens");
                assertEquals(67, tokens.size(), "padded to the model's vocab_size");
                assertEquals("[PAD66]", tokens.get(66));
                assertEquals(5, ((List<?>) read.metadata.get("tokenizer.ggml.token_type")).get(66), "unused");
                assertEquals(1L, read.metadata.get("tokenizer.ggml.bos_token_id"));
                assertEquals(2L, read.metadata.get("tokenizer.ggml.eos_token_id"));

                // tensors: names, ggml-order dims, types, values (q/k permuted, everything else as it is)
                Set<String> names = new HashSet<>();
                for (LlamaTensorNames.NamedShape expected : LlamaTensorNames.expected(config)) {
                    String name = LlamaGgufExport.ggufName(expected.name());
                    names.add(name);
                    GgufTestReader.Info info = read.tensor(name);
                    long[] shape = expected.shape();
                    long[] ne = new long[shape.length];
                    for (int axis = 0; axis < shape.length; axis++) {
                        ne[axis] = shape[shape.length - 1 - axis];
                    }
                    assertArrayEquals(ne, info.ne(), name);
                    GgmlType storage = shape.length == 1 ? GgmlType.F32
                            : shape[shape.length - 1] % type.blockSize() == 0 ? type : GgmlType.F16;
                    assertEquals(storage.id(), info.type(), name + " stored as " + storage);
                    float[] hf = weights.get(expected.name());
                    int layer = LlamaTensorNames.layerOf(expected.name());
                    float[] inFile = hf;
                    if (layer >= 0 && expected.name().equals(LlamaTensorNames.Projection.Q.tensorName(layer))) {
                        inFile = permuteToAdjacentPairs(hf, 4, 8, 24);
                    } else if (layer >= 0 && expected.name().equals(LlamaTensorNames.Projection.K.tensorName(layer))) {
                        inFile = permuteToAdjacentPairs(hf, 2, 8, 24);
                    }
                    assertArrayEquals(storage.roundTrip(inFile), read.decode(info), name);
                }
                assertEquals(names.size(), read.tensors.size());
                assertTrue(names.contains("token_embd.weight") && names.contains("output_norm.weight")
                        && names.contains("blk.1.ffn_down.weight") && names.contains("blk.0.attn_output.weight"));
                assertEquals(!tied, names.contains("output.weight"), "output.weight only for an untied head");
                assertEquals(read.tensors.size(), result.tensors());
                if (type.isQuantized()) {
                    assertTrue(result.storedAsF16().contains("blk.0.ffn_down.weight"), result.storedAsF16().toString());
                    assertFalse(result.storedAsF16().contains("blk.0.attn_output.weight"), "o_proj rows are 32 long");
                }
                // what llama.cpp reads back equals the weights the project evaluates for this type, under HF names
                InMemoryTensors stored = LlamaGgufExport.storedWeights(checkpoint, type);
                for (String name : List.of(LlamaTensorNames.Projection.K.tensorName(1), LlamaTensorNames.EMBED_TOKENS)) {
                    float[] fromFile = read.decode(read.tensor(LlamaGgufExport.ggufName(name)));
                    float[] expected = stored.readFloats(name);
                    if (name.contains("k_proj")) {
                        expected = permuteToAdjacentPairs(expected, 2, 8, 24);
                    }
                    assertArrayEquals(expected, fromFile, name);
                }
            }
        }
    }

    /**
     * Each family in its llama.cpp architecture (convert_hf_to_gguf.py; names from llama.cpp's llama-arch.cpp, written
     * out here): Mistral as {@code llama} with q/k permuted and its window recorded; Qwen2 as {@code qwen2} with q/k/v
     * biases; Qwen3 as {@code qwen3} with q/k norms and explicit key/value length; both Qwen rows unpermuted (NEOX).
     */
    @Test
    void shouldWriteEachFamilyInItsLlamaCppArchitecture() throws IOException {
        Map<String, String> architectures = Map.of("llama-3.2", "llama", "mistral", "llama", "qwen2.5", "qwen2",
                "qwen3", "qwen3");
        for (String family : RandomLlama.FAMILIES) {
            LlamaConfig config = RandomLlama.family(family);
            Map<String, float[]> weights = RandomLlama.weights(config, 2);
            LlamaCheckpoint checkpoint = new LlamaCheckpoint(dir.resolve(family), "random", config,
                    RandomLlama.tensors(config, weights));
            Path file = dir.resolve(family + ".gguf");
            LlamaGgufExport.write(checkpoint, vocabulary(config.vocabSize()), GgmlType.F32, file, Progress.NONE);
            GgufTestReader read = GgufTestReader.read(file);
            String arch = architectures.get(family);
            assertEquals(arch, read.metadata.get("general.architecture"), family);
            assertEquals((long) config.hiddenSize(), read.metadata.get(arch + ".embedding_length"), family);
            assertEquals((long) config.numberOfKeyValueHeads(), read.metadata.get(arch + ".attention.head_count_kv"));
            assertEquals(family.equals("qwen3") ? Long.valueOf(16) : null,
                    read.metadata.get(arch + ".attention.key_length"), family + ": key_length");
            assertEquals(family.equals("mistral") ? Long.valueOf(8) : null,
                    read.metadata.get(arch + ".attention.sliding_window"), family + ": sliding_window");
            assertEquals(family.equals("mistral") ? 1 : 0, LlamaGgufExport.caveats(config).size(), family);
            int heads = config.numberOfHeads();
            int kvHeads = config.numberOfKeyValueHeads();
            int headDim = config.headDim();
            int hidden = config.hiddenSize();
            boolean permuted = arch.equals("llama");
            for (int layer = 0; layer < config.numberOfLayers(); layer++) {
                String block = "blk." + layer + ".";
                float[] q = weights.get(LlamaTensorNames.Projection.Q.tensorName(layer));
                float[] k = weights.get(LlamaTensorNames.Projection.K.tensorName(layer));
                assertArrayEquals(permuted ? permuteToAdjacentPairs(q, heads, headDim, hidden) : q,
                        read.decode(read.tensor(block + "attn_q.weight")), 0f, family);
                assertArrayEquals(permuted ? permuteToAdjacentPairs(k, kvHeads, headDim, hidden) : k,
                        read.decode(read.tensor(block + "attn_k.weight")), 0f, family);
                for (String bias : List.of("attn_q.bias", "attn_k.bias", "attn_v.bias")) {
                    boolean present = read.tensors.stream().anyMatch(t -> t.name().equals(block + bias));
                    assertEquals(family.equals("qwen2.5"), present, family + " " + bias);
                }
                if (family.equals("qwen2.5")) {
                    String projection = "model.layers." + layer + ".self_attn.";
                    assertArrayEquals(weights.get(projection + "q_proj.bias"),
                            read.decode(read.tensor(block + "attn_q.bias")), 0f);
                    assertArrayEquals(weights.get(projection + "v_proj.bias"),
                            read.decode(read.tensor(block + "attn_v.bias")), 0f);
                    assertEquals(GgmlType.F32.id(), read.tensor(block + "attn_k.bias").type());
                    assertArrayEquals(new long[] {kvHeads * headDim}, read.tensor(block + "attn_k.bias").ne());
                }
                for (String norm : List.of("attn_q_norm.weight", "attn_k_norm.weight")) {
                    boolean present = read.tensors.stream().anyMatch(t -> t.name().equals(block + norm));
                    assertEquals(family.equals("qwen3"), present, family + " " + norm);
                }
                if (family.equals("qwen3")) {
                    assertArrayEquals(weights.get("model.layers." + layer + ".self_attn.k_norm.weight"),
                            read.decode(read.tensor(block + "attn_k_norm.weight")), 0f);
                    assertArrayEquals(new long[] {headDim}, read.tensor(block + "attn_q_norm.weight").ne());
                }
            }
            assertEquals(LlamaTensorNames.expected(config).size() + (config.family().ropeScaling() != null ? 1 : 0),
                    read.tensors.size(), family);
        }
    }

    @Test
    void shouldRefuseAQwen2WhoseHeadsDoNotSpanTheHiddenSizeAndWriteNothing() {
        com.fasterxml.jackson.databind.node.ObjectNode json = RandomLlama.familyConfigJson("qwen2.5");
        json.put("head_dim", 16); // 4 x 16 = 64 against hidden 32: llama.cpp's qwen2 sizes q as hidden
        LlamaConfig config = RandomLlama.parse(json);
        LlamaCheckpoint checkpoint = new LlamaCheckpoint(dir.resolve("wide"), "random", config,
                RandomLlama.tensors(config, RandomLlama.weights(config, 1)));
        Path file = dir.resolve("wide.gguf");
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> LlamaGgufExport.write(
                checkpoint, vocabulary(config.vocabSize()), GgmlType.F32, file, Progress.NONE));
        assertEquals("GGUF export: llama.cpp's qwen2 architecture needs head_dim x num_attention_heads = hidden_size, "
                + "and this Qwen2ForCausalLM has 16 x 4 = 64 against 32 (export it as an HF folder instead)",
                error.getMessage());
        assertFalse(java.nio.file.Files.exists(file) || java.nio.file.Files.exists(dir.resolve("wide.gguf.partial")));
    }

    /**
     * Llama-3's rope scaling as llama.cpp's converter writes it (convert_hf_to_gguf.py, LlamaModel): a rope_freqs
     * tensor of head_dim / 2 divisors, 1 for wavelengths under L / high_freq_factor, factor over L / low_freq_factor,
     * and 1 / ((1 - s) / factor + s) between, s = (L / wavelength - low_freq_factor) / (high - low).
     */
    @Test
    void shouldWriteLlama3RopeScalingAsLlamaCppsRopeFreqsDivisors() throws IOException {
        LlamaConfig config = RandomLlama.family("llama-3.2"); // theta 500000, head_dim 16, factor 32, L = 64, 1, 4
        LlamaCheckpoint checkpoint = new LlamaCheckpoint(dir.resolve("llama3"), "random", config,
                RandomLlama.tensors(config, RandomLlama.weights(config, 3)));
        Path file = dir.resolve("llama3.gguf");
        LlamaGgufExport.Result result = LlamaGgufExport.write(checkpoint, vocabulary(config.vocabSize()), GgmlType.F32,
                file, Progress.NONE);
        GgufTestReader read = GgufTestReader.read(file);
        GgufTestReader.Info info = read.tensor("rope_freqs.weight");
        assertArrayEquals(new long[] {8}, info.ne());
        assertEquals(GgmlType.F32.id(), info.type());
        float[] expected = new float[8];
        for (int i = 0; i < 8; i++) {
            double wavelength = 2 * Math.PI * Math.pow(500000.0, 2.0 * i / 16);
            if (wavelength < 64 / 4.0) {
                expected[i] = 1f;
            } else if (wavelength > 64 / 1.0) {
                expected[i] = 32f;
            } else {
                double s = (64 / wavelength - 1) / (4 - 1);
                expected[i] = (float) (1 / ((1 - s) / 32 + s));
            }
        }
        assertEquals(1f, expected[0]);
        assertTrue(expected[1] > 1f && expected[1] < 32f, "pair 1 is in the medium band: " + expected[1]);
        assertArrayEquals(expected, read.decode(info), 1e-5f);
        assertEquals(LlamaTensorNames.expected(config).size() + 1, result.tensors());
        assertTrue(read.tensors.stream().noneMatch(t -> t.name().equals("output.weight")), "Llama-3.2's head is tied");
        assertEquals(LlamaTensorNames.expected(config).size(),
                LlamaGgufExport.storedWeights(checkpoint, GgmlType.F32).tensorNames().size(), "rope_freqs is not a weight");
    }

    @Test
    void shouldReadTheDemoTokenizerJsonAsSentencepiecePiecesWithMergeScores() {
        TokenizerVocabulary vocab = TokenizerVocabulary.read(Path.of("../../models/demo/tokenizer.json")
                .toAbsolutePath().normalize());
        assertEquals(1024, vocab.size());
        assertEquals("<unk>", vocab.pieces().get(0));
        assertEquals(TokenizerVocabulary.UNKNOWN, vocab.types()[0]);
        assertEquals(TokenizerVocabulary.CONTROL, vocab.types()[1]);
        assertEquals(TokenizerVocabulary.CONTROL, vocab.types()[2]);
        assertEquals("<0x0A>", vocab.pieces().get(3 + 10));
        assertEquals(TokenizerVocabulary.BYTE, vocab.types()[3 + 10]);
        assertEquals(0, vocab.unknownId());
        // the first merges are "▁ t" and "▁t h": their results score 0 and -1, above every later merge
        assertEquals("\u2581 t", vocab.merges().get(0));
        int first = vocab.pieces().indexOf("\u2581t");
        int second = vocab.pieces().indexOf("\u2581th");
        assertEquals(0f, vocab.scores()[first]);
        assertEquals(-1f, vocab.scores()[second]);
        assertEquals(TokenizerVocabulary.NORMAL, vocab.types()[first]);
        assertThrows(InvalidInputException.class, () -> vocab.paddedTo(1000));
    }

    @Test
    void shouldReadTheLlama2cTokenizerWithSpacesAsU2581() {
        Path tok512 = TestFixtures.tok512();
        TokenizerVocabulary vocab = TokenizerVocabulary.read(tok512);
        Llama2cTokenizer tokenizer = Llama2cTokenizer.read(tok512);
        assertEquals(512, vocab.size());
        assertEquals("<s>", vocab.pieces().get(1));
        assertEquals("<0x0A>", vocab.pieces().get(3 + 10));
        assertEquals(TokenizerVocabulary.BYTE, vocab.types()[3 + 10]);
        assertEquals(" t", tokenizer.pieces().get(259));
        assertEquals("\u2581t", vocab.pieces().get(259));
        assertArrayEquals(tokenizer.scores(), vocab.scores());
        assertNotEquals(-1, vocab.pieces().indexOf("\u2581the"));
    }

    /**
     * A synthetic sentencepiece vocabulary: unk, BOS, EOS, the 256 byte pieces when there is room, then plain pieces.
     */
    @Test
    void shouldStoreAPackedSymGridExactlyInQ40AndQ80DroppingOnlyTheCherriesOfThoseTensors() throws IOException {
        // hidden 64 and ffn 96: every matrix but ffn_down (rows of 80) is whole blocks of 32
        LlamaConfig config = new LlamaConfig(64, 80, 2, 4, 2, 16, 67, 64, 1e-5, 10000.0, false, 1, 2);
        Map<String, float[]> weights = RandomLlama.weights(config, 21);
        Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(config);
        Map<String, float[]> linear = new java.util.LinkedHashMap<>();
        shapes.keySet().forEach(name -> linear.put(name, weights.get(name)));
        CherrySet cherries = CherrySelector.select(SelectionCriterion.MAGNITUDE, 0.05, linear, shapes, 1);
        for (int bits : new int[] {4, 8}) {
            GgmlType type = bits == 4 ? GgmlType.Q4_0 : GgmlType.Q8_0;
            QuantSpec spec = new QuantSpec(bits, 32, QuantScheme.SYM);
            Path folder = dir.resolve("sym" + bits);
            PackedModel.write(folder, config, RandomLlama.tensors(config, weights), spec, cherries,
                    PackedModel.quantizationConfig("cherryq", spec, cherries), Map.of(), Progress.NONE);
            LlamaGgufExport.Grid grid = PackedModel.ggufGrid(folder, type);
            assertNotNull(grid, bits + "-bit sym in groups of 32 is " + type);
            assertNull(PackedModel.ggufGrid(folder, bits == 4 ? GgmlType.Q8_0 : GgmlType.Q4_0), "another type");
            Map<String, float[]> withCherries = PackedModel.unpack(folder);
            Map<String, float[]> gridOnly = PackedModel.unpack(folder, false);
            Path file = dir.resolve("sym" + bits + ".gguf");
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder)) {
                LlamaGgufExport.Result result = LlamaGgufExport.write(checkpoint, vocabulary(60), type, grid, file,
                        Progress.NONE);
                assertTrue(result.exactGrid());
                GgufTestReader read = GgufTestReader.read(file);
                InMemoryTensors stored = LlamaGgufExport.storedWeights(checkpoint, type, grid);
                long dropped = 0;
                for (String name : shapes.keySet()) {
                    long[] shape = shapes.get(name);
                    boolean blocks = shape[1] % 32 == 0;
                    // in whole blocks: the grid itself, decoded by the spec's definition; otherwise F16 of the
                    // dense weights, cherries kept
                    float[] expected = blocks ? gridOnly.get(name) : GgmlType.F16.roundTrip(withCherries.get(name));
                    assertArrayEquals(expected, stored.readFloats(name), 0f, name);
                    int layer = LlamaTensorNames.layerOf(name);
                    if (name.equals(LlamaTensorNames.Projection.Q.tensorName(layer))) {
                        expected = permuteToAdjacentPairs(expected, 4, 16, 64);
                    } else if (name.equals(LlamaTensorNames.Projection.K.tensorName(layer))) {
                        expected = permuteToAdjacentPairs(expected, 2, 16, 64);
                    }
                    GgufTestReader.Info info = read.tensor(LlamaGgufExport.ggufName(name));
                    assertEquals((blocks ? type : GgmlType.F16).id(), info.type(), name);
                    assertArrayEquals(expected, read.decode(info), 0f, name + " in the file");
                    for (int i = 0; blocks && i < expected.length; i++) {
                        dropped += gridOnly.get(name)[i] == withCherries.get(name)[i] ? 0 : 1;
                    }
                }
                assertTrue(dropped > 0, "the cherries of the block tensors differ from their codes' levels");
                assertEquals(dropped, result.cherriesDropped());
                assertTrue(result.cherriesDropped() < result.cherriesInSource(), "ffn_down keeps its cherries");
            }
        }
        // the paper's grid has no zero level: no block type holds it, so it is rounded again
        QuantSpec symFull = new QuantSpec(4, 32, QuantScheme.SYM_FULL);
        Path folder = dir.resolve("symfull4");
        PackedModel.write(folder, config, RandomLlama.tensors(config, weights), symFull, cherries,
                PackedModel.quantizationConfig("cherryq", symFull, cherries), Map.of(), Progress.NONE);
        assertNull(PackedModel.ggufGrid(folder, GgmlType.Q4_0));
    }

    @Test
    void shouldRefuseToStoreAValueOffTheGridOrAScaleThatIsNotF16() {
        float[] values = new float[32];
        for (int j = 0; j < 32; j++) {
            values[j] = (j % 16 - 8) * 0.25f;
        }
        float[] decoded = GgmlType.Q4_0.decode(GgmlType.Q4_0.encodeOnScales(values, new float[] {0.25f}), 32);
        assertArrayEquals(values, decoded, 0f);
        values[3] = 0.3f; // between levels
        assertTrue(assertThrows(IllegalArgumentException.class, () -> GgmlType.Q4_0.encodeOnScales(values,
                new float[] {0.25f})).getMessage().contains("value 3"));
        values[3] = 8 * 0.25f; // beyond level 7
        assertThrows(IllegalArgumentException.class, () -> GgmlType.Q4_0.encodeOnScales(values, new float[] {0.25f}));
        assertThrows(IllegalArgumentException.class, () -> GgmlType.Q8_0.encodeOnScales(new float[32],
                new float[] {0.1f}), "0.1 is not an f16 value");
    }

    static TokenizerVocabulary vocabulary(int size) {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        int[] types = new int[size];
        types[0] = TokenizerVocabulary.UNKNOWN;
        types[1] = TokenizerVocabulary.CONTROL;
        types[2] = TokenizerVocabulary.CONTROL;
        for (int id = 3; id < size; id++) {
            boolean isByte = size >= 259 && id < 259;
            pieces.add(isByte ? String.format("<0x%02X>", id - 3) : "\u2581w" + id);
            types[id] = isByte ? TokenizerVocabulary.BYTE : TokenizerVocabulary.NORMAL;
        }
        return new TokenizerVocabulary("synthetic", pieces, new float[size], types, List.of(), 0);
    }

    /**
     * Written here from the two RoPE conventions, apart from the export: HF row {@code member * half + pair} of a head
     * holds the pair member that llama.cpp expects at row {@code 2 * pair + member}.
     */
    private static float[] permuteToAdjacentPairs(float[] hf, int heads, int headSize, int columns) {
        float[] out = new float[hf.length];
        int half = headSize / 2;
        for (int head = 0; head < heads; head++) {
            for (int row = 0; row < headSize; row++) {
                int pair = row / 2;
                int member = row % 2;
                int source = head * headSize + member * half + pair;
                System.arraycopy(hf, source * columns, out, (head * headSize + row) * columns, columns);
            }
        }
        return out;
    }
}
