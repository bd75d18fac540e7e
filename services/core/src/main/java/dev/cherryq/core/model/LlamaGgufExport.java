package dev.cherryq.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.format.GgufWriter;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.model.LlamaTensorNames.Projection;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A LLaMA-style checkpoint (HF folder, llama2.c .bin, or a quantized model folder's dense weights) as a GGUF file for
 * llama.cpp, written with {@link GgufWriter}, in the llama.cpp architecture of its family ({@link GgufArchitecture}:
 * {@code llama} for LLaMA and Mistral, {@code qwen2}, {@code qwen3}):
 * <ul>
 *   <li>metadata: {@code general.*} (architecture, name, file type) and {@code ARCH.*} (context and embedding
 *       length, block count, feed-forward length, head counts, RMSNorm epsilon, RoPE base and dimensions, vocab
 *       size; key/value length when head_dim is not hidden_size / heads, or always for {@code qwen3}; Mistral's
 *       sliding window), then the tokenizer ({@code tokenizer.ggml.*}, llama.cpp's sentencepiece model
 *       {@code llama}, from {@link TokenizerVocabulary});</li>
 *   <li>tensors under llama.cpp's names (its {@code LLM_TENSOR_NAMES}, gguf-py's {@code TENSOR_NAMES}):
 *       {@code token_embd}, {@code blk.N.attn_norm|attn_q|attn_k|attn_v|attn_output|ffn_norm|ffn_gate|ffn_up|
 *       ffn_down}, Qwen2's {@code blk.N.attn_q|attn_k|attn_v.bias}, Qwen3's {@code blk.N.attn_q_norm|attn_k_norm},
 *       {@code output_norm}, and {@code output} unless the embeddings are tied.</li>
 * </ul>
 * RoPE: the checkpoint holds HF's rotate-half layout (pairs (i, i + d/2) of each head). llama.cpp's {@code llama}
 * architecture rotates adjacent pairs (2i, 2i + 1): there the rows of the q and k projections are permuted per head
 * ({@link #halvesToInterleaved}, the inverse of the permutation HF's conversion script applies to Meta's weights,
 * which llama.cpp's HF converter also applies), so that llama.cpp computes the same function. {@code qwen2} and
 * {@code qwen3} rotate halves (NEOX) as HF does: their rows are written as they are.
 * <p>
 * Llama-3's {@code llama3} RoPE scaling travels as llama.cpp's converter writes it: a {@code rope_freqs.weight} F32
 * tensor of head_dim/2 divisors, by which llama.cpp divides each plain frequency theta^(-2i/d)
 * ({@link #ropeFrequencyDivisors}). Mistral's sliding window is written but not applied by llama.cpp's {@code llama}
 * architecture ({@link #caveats}).
 * <p>
 * Norm weights are always F32; the other matrices take the requested type, or F16 when their rows are not a whole
 * number of the type's blocks (as llama.cpp's converter falls back). GGUF has no place for cherries: a quantized
 * folder's dense weights include them, exported as they are in F32 and F16 and rounded with everything else in Q8_0
 * and Q4_0.
 * <p>
 * The exact case: a packed folder quantized on GPTQ's symmetric grid ({@code sym}) in groups of 32 holds, per
 * group, levels k * s with k in -2^(b-1)..2^(b-1)-1 and an f16 scale s: at 4 bits exactly Q4_0's block
 * ((q - 8) * d), at 8 bits Q8_0's (q * d). Given that {@link Grid} (from {@code PackedModel.ggufGrid}), the linear
 * weights stored in that type are written with their group's own scale ({@link GgmlType#encodeOnScales}), not
 * rounded again; their cherries are dropped (each cherry position keeps its code's level), and tensors stored
 * otherwise keep the checkpoint's dense weights.
 */
public final class LlamaGgufExport {

    /** llama.cpp's per-frequency RoPE divisors (LLM_TENSOR_ROPE_FREQS), written for Llama-3's rope scaling. */
    public static final String ROPE_FREQS = "rope_freqs.weight";

    /**
     * What was written: the file, its size, the tensors stored as F16 instead of the requested quantized type, and
     * whether the linear weights were stored exactly from the packed grid (then {@code cherriesDropped} of the
     * source's cherries, those in tensors stored in the block type, are not in the file).
     */
    public record Result(Path file, long bytes, GgmlType type, int tensors, List<String> storedAsF16,
            long cherriesInSource, boolean exactGrid, long cherriesDropped) {}

    /** One tensor of the GGUF file: its llama.cpp name, its HF source, its row-major shape and storage type. */
    public record Planned(String ggufName, String hfName, long[] shape, GgmlType type) {}

    private LlamaGgufExport() {}

    /**
     * Linear weights that lie on a grid of per-block scales, stored exactly in the block type: per HF tensor name,
     * the values (rows, columns) and the block scales (rows, columns / 32), both row-major, and the cherries the grid
     * leaves out (positions whose kept value is not the grid's).
     */
    public record Grid(Map<String, float[]> values, Map<String, float[]> scales, Map<String, Long> cherries) {
        boolean stores(Planned tensor) {
            return tensor.type().isQuantized() && tensor.hfName() != null && values.containsKey(tensor.hfName());
        }
    }

    /** Writes {@code file}; the vocabulary is padded with unused pieces up to the model's vocab_size. */
    public static Result write(LlamaCheckpoint checkpoint, TokenizerVocabulary vocabulary, GgmlType type, Path file,
            Progress progress) {
        return write(checkpoint, vocabulary, type, null, file, progress);
    }

    /** Writes {@code file}, the linear weights of {@code grid} (if not null) stored exactly from it. */
    public static Result write(LlamaCheckpoint checkpoint, TokenizerVocabulary vocabulary, GgmlType type, Grid grid,
            Path file, Progress progress) {
        LlamaConfig config = checkpoint.config();
        requireExportable(config);
        TokenizerVocabulary vocab = vocabulary.paddedTo(config.vocabSize());
        GgufWriter writer = new GgufWriter();
        writeModelMetadata(writer, config, type, checkpoint);
        writeTokenizerMetadata(writer, config, vocab);
        long cherries = cherriesIn(checkpoint.path());
        if (cherries > 0) {
            writer.putUint32("cherryq.source_cherries", cherries);
        }
        List<Planned> plan = plan(config, type);
        List<String> storedAsF16 = new ArrayList<>();
        int[] done = {0};
        for (Planned tensor : plan) {
            if (type.isQuantized() && tensor.type() == GgmlType.F16) {
                storedAsF16.add(tensor.ggufName());
            }
            if (grid != null && grid.stores(tensor)) {
                // the packed grid with its own scales, in llama.cpp's RoPE layout (scale rows move with their rows)
                writer.addTensorOnGrid(tensor.ggufName(), tensor.shape(), tensor.type(), () -> {
                    progress.update(++done[0], plan.size(), tensor.ggufName());
                    return inGgufLayout(config, tensor.hfName(), grid.values().get(tensor.hfName()),
                            config.hiddenSize());
                }, () -> inGgufLayout(config, tensor.hfName(), grid.scales().get(tensor.hfName()),
                        config.hiddenSize() / type.blockSize()));
                continue;
            }
            // read one tensor at a time, in HF layout, and give it llama.cpp's RoPE layout
            writer.addTensor(tensor.ggufName(), tensor.shape(), tensor.type(), () -> {
                float[] values = tensor.hfName() == null ? ropeFrequencyDivisors(config)
                        : inGgufLayout(config, tensor.hfName(), checkpoint.tensors().readFloats(tensor.hfName()),
                                config.hiddenSize());
                progress.update(++done[0], plan.size(), tensor.ggufName());
                return values;
            });
        }
        writer.write(file);
        try {
            return new Result(file, Files.size(file), type, plan.size(), List.copyOf(storedAsF16), cherries,
                    grid != null, grid == null ? 0 : plan.stream().filter(grid::stores)
                            .mapToLong(tensor -> grid.cherries().getOrDefault(tensor.hfName(), 0L)).sum());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the size of " + file, e);
        }
    }

    /**
     * Every tensor of the file in order, with its GGUF name, HF source (null for {@code rope_freqs}, which is
     * computed from the config), row-major shape and storage type.
     */
    public static List<Planned> plan(LlamaConfig config, GgmlType type) {
        requireExportable(config);
        List<Planned> plan = new ArrayList<>();
        if (config.family().ropeScaling() != null) {
            plan.add(new Planned(ROPE_FREQS, null, new long[] {config.headDim() / 2}, GgmlType.F32));
        }
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            long[] shape = tensor.shape();
            GgmlType storage = shape.length == 1 ? GgmlType.F32 // norms
                    : type.fitsRowLength(shape[shape.length - 1]) ? type : GgmlType.F16;
            plan.add(new Planned(ggufName(tensor.name()), tensor.name(), shape, storage));
        }
        return plan;
    }

    /**
     * The checkpoint's weights as llama.cpp reads them back from the file, under HF names and layout: each tensor
     * rounded through its storage type. Row permutations move whole rows and blocks lie within rows, so rounding in
     * HF layout equals rounding in GGUF layout. For evaluating, with the project's own forward pass, exactly the
     * weights the GGUF file holds.
     */
    public static InMemoryTensors storedWeights(LlamaCheckpoint checkpoint, GgmlType type) {
        return storedWeights(checkpoint, type, null);
    }

    /** {@link #storedWeights(LlamaCheckpoint, GgmlType)} of a file written with {@code grid}. */
    public static InMemoryTensors storedWeights(LlamaCheckpoint checkpoint, GgmlType type, Grid grid) {
        InMemoryTensors stored = new InMemoryTensors(checkpoint.path());
        for (Planned tensor : plan(checkpoint.config(), type)) {
            if (tensor.hfName() == null) {
                continue; // rope_freqs: part of the config, not a weight
            }
            stored.put(tensor.hfName(), tensor.shape(), grid != null && grid.stores(tensor)
                    ? grid.values().get(tensor.hfName()) // stored exactly
                    : tensor.type().roundTrip(checkpoint.tensors().readFloats(tensor.hfName())));
        }
        return stored;
    }

    /** Refuses, in one line and before anything is written, a checkpoint its llama.cpp architecture cannot hold. */
    public static void requireExportable(LlamaConfig config) {
        GgufArchitecture.of(config.family()).requireHolds(config);
    }

    /**
     * What the file computes differently from the checkpoint, in words (empty when nothing): llama.cpp's
     * {@code llama} architecture does not apply Mistral's sliding window, so the file equals the model only on
     * contexts up to the window.
     */
    public static List<String> caveats(LlamaConfig config) {
        if (config.family().hasSlidingWindow()) {
            return List.of("llama.cpp's " + GgufArchitecture.of(config.family()).ggufName() + " architecture does not "
                    + "apply the sliding window (" + config.family().slidingWindow() + " positions; written as "
                    + GgufArchitecture.of(config.family()).key("attention.sliding_window") + "): the file computes "
                    + "this model only on contexts of at most " + config.family().slidingWindow() + " tokens");
        }
        return List.of();
    }

    /**
     * llama.cpp's {@code rope_freqs} for Llama-3's rope scaling: per rotated pair i, the plain frequency
     * theta^(-2i/d) over the scaled one, so that llama.cpp's plain frequency divided by it is the scaled one (the
     * divisors llama.cpp's convert_hf_to_gguf.py computes: 1, factor, or 1 / ((1 - s) / factor + s)).
     */
    static float[] ropeFrequencyDivisors(LlamaConfig config) {
        double[] scaled = config.family().inverseFrequencies(config.ropeTheta(), config.headDim());
        double[] plain = ModelFamily.LLAMA_2.inverseFrequencies(config.ropeTheta(), config.headDim());
        float[] divisors = new float[scaled.length];
        for (int i = 0; i < divisors.length; i++) {
            divisors[i] = (float) (plain[i] / scaled[i]);
        }
        return divisors;
    }

    /** llama.cpp's name for an HF tensor name of a LLaMA-style decoder (the same in every architecture written). */
    public static String ggufName(String hfName) {
        switch (hfName) {
            case LlamaTensorNames.EMBED_TOKENS:
                return "token_embd.weight";
            case LlamaTensorNames.FINAL_NORM:
                return "output_norm.weight";
            case LlamaTensorNames.LM_HEAD:
                return "output.weight";
            default:
                break;
        }
        int layer = LlamaTensorNames.layerOf(hfName);
        if (layer < 0) {
            throw new IllegalArgumentException("no GGUF name for tensor " + hfName);
        }
        String block = "blk." + layer + ".";
        if (hfName.equals(LlamaTensorNames.attentionNorm(layer))) {
            return block + "attn_norm.weight";
        }
        if (hfName.equals(LlamaTensorNames.mlpNorm(layer))) {
            return block + "ffn_norm.weight";
        }
        if (hfName.equals(LlamaTensorNames.queryNorm(layer))) {
            return block + "attn_q_norm.weight";
        }
        if (hfName.equals(LlamaTensorNames.keyNorm(layer))) {
            return block + "attn_k_norm.weight";
        }
        for (Projection projection : Projection.values()) {
            if (hfName.equals(projection.biasName(layer)) && projection.ordinal() <= Projection.V.ordinal()) {
                return block + "attn_" + projection.name().toLowerCase(java.util.Locale.ROOT) + ".bias";
            }
            if (hfName.equals(projection.tensorName(layer))) {
                return block + switch (projection) {
                    case Q -> "attn_q.weight";
                    case K -> "attn_k.weight";
                    case V -> "attn_v.weight";
                    case O -> "attn_output.weight";
                    case GATE -> "ffn_gate.weight";
                    case UP -> "ffn_up.weight";
                    case DOWN -> "ffn_down.weight";
                };
            }
        }
        throw new IllegalArgumentException("no GGUF name for tensor " + hfName);
    }

    /**
     * The values of one HF tensor in the file's layout: where the architecture rotates adjacent pairs, q and k rows
     * (and their biases, if any) permuted to interleaved RoPE; everything else as it is. {@code columns}: the row
     * length (hidden_size for the weights, hidden_size / 32 for their block scales; 1 is used for biases).
     */
    static float[] inGgufLayout(LlamaConfig config, String hfName, float[] values, int columns) {
        int layer = LlamaTensorNames.layerOf(hfName);
        if (layer < 0 || !GgufArchitecture.of(config.family()).permutesQueryKeyRows()) {
            return values;
        }
        if (hfName.equals(Projection.Q.tensorName(layer))) {
            return halvesToInterleaved(values, config.numberOfHeads(), columns);
        }
        if (hfName.equals(Projection.K.tensorName(layer))) {
            return halvesToInterleaved(values, config.numberOfKeyValueHeads(), columns);
        }
        if (hfName.equals(Projection.Q.biasName(layer))) {
            return halvesToInterleaved(values, config.numberOfHeads(), 1);
        }
        if (hfName.equals(Projection.K.biasName(layer))) {
            return halvesToInterleaved(values, config.numberOfKeyValueHeads(), 1);
        }
        return values;
    }

    /**
     * Per head, row {@code member * (headSize/2) + pair} (HF: pair {@code (x[i], x[i + headSize/2])}) moves to row
     * {@code 2 * pair + member}, so that each rotated pair is adjacent, as llama.cpp's {@code llama} RoPE expects.
     * The inverse of {@code Llama2cCheckpoint.interleavedToHalves}. weight: (heads * headSize, columns), row-major.
     */
    public static float[] halvesToInterleaved(float[] weight, int heads, int columns) {
        int rows = weight.length / columns;
        int headSize = rows / heads;
        int half = headSize / 2;
        float[] out = new float[weight.length];
        for (int head = 0; head < heads; head++) {
            for (int pair = 0; pair < half; pair++) {
                for (int member = 0; member < 2; member++) {
                    int from = head * headSize + member * half + pair;
                    int to = head * headSize + 2 * pair + member;
                    System.arraycopy(weight, from * columns, out, to * columns, columns);
                }
            }
        }
        return out;
    }

    /** The cherries a quantized model folder's config.json records (quantization_config.cherries), else 0. */
    public static long cherriesIn(Path model) {
        Path configFile = model.resolve(LlamaConfig.CONFIG_FILE);
        if (!Files.isDirectory(model) || !Files.isRegularFile(configFile)) {
            return 0;
        }
        JsonNode cherries = InputFiles.readJson(configFile, "an HF config.json").path("quantization_config")
                .path("cherries");
        return cherries.canConvertToLong() ? cherries.asLong() : 0;
    }

    private static void writeModelMetadata(GgufWriter writer, LlamaConfig config, GgmlType type,
            LlamaCheckpoint checkpoint) {
        GgufArchitecture architecture = GgufArchitecture.of(config.family());
        String prefix = architecture.ggufName() + ".";
        Path name = checkpoint.path().toAbsolutePath().normalize().getFileName();
        writer.putString("general.architecture", architecture.ggufName())
                .putString("general.name", name == null ? "model" : name.toString())
                .putUint32("general.file_type", fileType(type))
                .putUint32("general.quantization_version", 2)
                .putUint32(prefix + "vocab_size", config.vocabSize())
                .putUint32(prefix + "context_length", config.maxPositionEmbeddings())
                .putUint32(prefix + "embedding_length", config.hiddenSize())
                .putUint32(prefix + "block_count", config.numberOfLayers())
                .putUint32(prefix + "feed_forward_length", config.intermediateSize())
                .putUint32(prefix + "attention.head_count", config.numberOfHeads())
                .putUint32(prefix + "attention.head_count_kv", config.numberOfKeyValueHeads())
                .putFloat32(prefix + "attention.layer_norm_rms_epsilon", (float) config.rmsNormEps())
                .putFloat32(prefix + "rope.freq_base", (float) config.ropeTheta())
                .putUint32(prefix + "rope.dimension_count", config.headDim());
        if (architecture.writesHeadLengthsAlways() || config.headDim() * config.numberOfHeads() != config.hiddenSize()) {
            // llama.cpp derives head size as embedding_length / head_count unless told otherwise
            writer.putUint32(prefix + "attention.key_length", config.headDim())
                    .putUint32(prefix + "attention.value_length", config.headDim());
        }
        if (config.family().hasSlidingWindow()) {
            // recorded for readers; llama.cpp's llama architecture does not apply it (caveats)
            writer.putUint32(prefix + "attention.sliding_window", config.family().slidingWindow());
        }
    }

    private static void writeTokenizerMetadata(GgufWriter writer, LlamaConfig config, TokenizerVocabulary vocab) {
        writer.putString("tokenizer.ggml.model", "llama")
                .putStringArray("tokenizer.ggml.tokens", vocab.pieces())
                .putFloat32Array("tokenizer.ggml.scores", vocab.scores())
                .putInt32Array("tokenizer.ggml.token_type", vocab.types());
        if (!vocab.merges().isEmpty()) {
            writer.putStringArray("tokenizer.ggml.merges", vocab.merges());
        }
        writer.putUint32("tokenizer.ggml.bos_token_id", config.bosTokenId())
                .putUint32("tokenizer.ggml.eos_token_id", config.eosTokenId());
        if (vocab.unknownId() >= 0) {
            writer.putUint32("tokenizer.ggml.unknown_token_id", vocab.unknownId());
        }
        writer.putBool("tokenizer.ggml.add_bos_token", true).putBool("tokenizer.ggml.add_eos_token", false);
    }

    /** llama.cpp's {@code llama_ftype} for a file whose matrices are mostly of this type. */
    private static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
        };
    }
}
