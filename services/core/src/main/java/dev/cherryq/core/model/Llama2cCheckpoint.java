package dev.cherryq.core.model;

import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.InMemoryTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a llama2.c legacy ("v0") checkpoint (karpathy/llama2.c, run.c and export.py legacy_export): a header of
 * seven little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then f32
 * weights in a fixed order. A negative vocab_size means an untied classifier follows. llama2.c rotates
 * interleaved pairs in RoPE; converting to HF layout permutes the rows of wq and wk per head, exactly as HF's
 * convert_llama_weights_to_hf.py does, so that HF's rotate-half RoPE computes the same function.
 */
public final class Llama2cCheckpoint {

    private static final int HEADER_INTS = 7;

    private final LlamaConfig config;
    /** The file's own tensors in llama2.c layout, keyed by llama2.c names (token_embedding, wq, ...). */
    private final Map<String, float[]> raw;

    private Llama2cCheckpoint(LlamaConfig config, Map<String, float[]> raw) {
        this.config = config;
        this.raw = raw;
    }

    public LlamaConfig config() {
        return config;
    }

    /** The llama2.c-layout arrays (wq/wk unpermuted), for checks against run.c's interleaved RoPE. */
    public Map<String, float[]> rawWeights() {
        return raw;
    }

    public static Llama2cCheckpoint read(Path file) {
        byte[] bytes = InputFiles.readBytes(file);
        if (bytes.length < HEADER_INTS * 4) {
            throw new InvalidInputException(file + ": truncated llama2.c checkpoint: " + bytes.length
                    + " bytes, the header alone needs 28");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int dim = buffer.getInt();
        int hiddenDim = buffer.getInt();
        int layers = buffer.getInt();
        int heads = buffer.getInt();
        int kvHeads = buffer.getInt();
        int signedVocab = buffer.getInt();
        int seqLen = buffer.getInt();
        boolean shared = signedVocab > 0;
        int vocab = Math.abs(signedVocab);
        String header = "dim=" + dim + " hidden_dim=" + hiddenDim + " n_layers=" + layers + " n_heads=" + heads
                + " n_kv_heads=" + kvHeads + " vocab_size=" + signedVocab + " seq_len=" + seqLen;
        if (dim <= 0 || hiddenDim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab == 0 || seqLen <= 0
                || dim % heads != 0 || heads % kvHeads != 0 || dim > 1 << 16 || layers > 1024) {
            throw new InvalidInputException(file + ": not a llama2.c checkpoint (implausible header: " + header + ")");
        }
        int headSize = dim / heads;
        int kvDim = dim * kvHeads / heads;
        LlamaConfig config = new LlamaConfig(dim, hiddenDim, layers, heads, kvHeads, headSize, vocab, seqLen,
                1e-5, 10000.0, shared, 1, 2);
        long ropeTableFloats = (long) seqLen * headSize / 2 * 2;
        long needed = (long) vocab * dim + (long) layers * (2L * dim + 2L * dim * dim + 2L * kvDim * dim
                + 3L * hiddenDim * dim) + dim + ropeTableFloats + (shared ? 0 : (long) vocab * dim);
        long available = (bytes.length - HEADER_INTS * 4L) / 4;
        if (available < needed) {
            throw new InvalidInputException(file + ": truncated llama2.c checkpoint: header (" + header + ") needs "
                    + (needed * 4 + 28) + " bytes, the file has " + bytes.length);
        }
        FloatBuffer floats = buffer.asFloatBuffer();
        Map<String, float[]> raw = new LinkedHashMap<>();
        raw.put("token_embedding", take(floats, (long) vocab * dim));
        raw.put("rms_att", take(floats, (long) layers * dim));
        raw.put("wq", take(floats, (long) layers * dim * dim));
        raw.put("wk", take(floats, (long) layers * kvDim * dim));
        raw.put("wv", take(floats, (long) layers * kvDim * dim));
        raw.put("wo", take(floats, (long) layers * dim * dim));
        raw.put("rms_ffn", take(floats, (long) layers * dim));
        raw.put("w1", take(floats, (long) layers * hiddenDim * dim));
        raw.put("w2", take(floats, (long) layers * dim * hiddenDim));
        raw.put("w3", take(floats, (long) layers * hiddenDim * dim));
        raw.put("rms_final", take(floats, dim));
        floats.position(floats.position() + (int) ropeTableFloats); // legacy RoPE tables, unused
        raw.put("wcls", shared ? raw.get("token_embedding") : take(floats, (long) vocab * dim));
        return new Llama2cCheckpoint(config, raw);
    }

    private static float[] take(FloatBuffer floats, long count) {
        float[] out = new float[Math.toIntExact(count)];
        floats.get(out);
        return out;
    }

    /** The weights under HF names and layout, with wq/wk rows permuted from interleaved to rotate-half RoPE. */
    public InMemoryTensors toHfTensors(Path origin) {
        LlamaConfig c = config;
        int dim = c.hiddenSize();
        int kvDim = c.keyValueDim();
        int hidden = c.intermediateSize();
        InMemoryTensors tensors = new InMemoryTensors(origin);
        tensors.put(LlamaTensorNames.EMBED_TOKENS, new long[] {c.vocabSize(), dim}, raw.get("token_embedding"));
        for (int layer = 0; layer < c.numberOfLayers(); layer++) {
            tensors.put(LlamaTensorNames.attentionNorm(layer), new long[] {dim}, slice(raw.get("rms_att"), layer, dim));
            tensors.put(LlamaTensorNames.Projection.Q.tensorName(layer), new long[] {dim, dim},
                    interleavedToHalves(slice(raw.get("wq"), layer, dim * dim), c.numberOfHeads(), dim));
            tensors.put(LlamaTensorNames.Projection.K.tensorName(layer), new long[] {kvDim, dim},
                    interleavedToHalves(slice(raw.get("wk"), layer, kvDim * dim), c.numberOfKeyValueHeads(), dim));
            tensors.put(LlamaTensorNames.Projection.V.tensorName(layer), new long[] {kvDim, dim},
                    slice(raw.get("wv"), layer, kvDim * dim));
            tensors.put(LlamaTensorNames.Projection.O.tensorName(layer), new long[] {dim, dim},
                    slice(raw.get("wo"), layer, dim * dim));
            tensors.put(LlamaTensorNames.mlpNorm(layer), new long[] {dim}, slice(raw.get("rms_ffn"), layer, dim));
            tensors.put(LlamaTensorNames.Projection.GATE.tensorName(layer), new long[] {hidden, dim},
                    slice(raw.get("w1"), layer, hidden * dim));
            tensors.put(LlamaTensorNames.Projection.DOWN.tensorName(layer), new long[] {dim, hidden},
                    slice(raw.get("w2"), layer, dim * hidden));
            tensors.put(LlamaTensorNames.Projection.UP.tensorName(layer), new long[] {hidden, dim},
                    slice(raw.get("w3"), layer, hidden * dim));
        }
        tensors.put(LlamaTensorNames.FINAL_NORM, new long[] {dim}, raw.get("rms_final"));
        if (!c.tieWordEmbeddings()) {
            tensors.put(LlamaTensorNames.LM_HEAD, new long[] {c.vocabSize(), dim}, raw.get("wcls"));
        }
        return tensors;
    }

    private static float[] slice(float[] stacked, int layer, int size) {
        float[] out = new float[size];
        System.arraycopy(stacked, layer * size, out, 0, size);
        return out;
    }

    /**
     * HF's permute(w, n_heads): per head, row 2i+j (pair i, member j) moves to row j*(headSize/2)+i, so pairs
     * (x[2i], x[2i+1]) become (x[i], x[i + headSize/2]).
     */
    static float[] interleavedToHalves(float[] weight, int heads, int columns) {
        int rows = weight.length / columns;
        int headSize = rows / heads;
        int half = headSize / 2;
        float[] out = new float[weight.length];
        for (int head = 0; head < heads; head++) {
            for (int pair = 0; pair < half; pair++) {
                for (int member = 0; member < 2; member++) {
                    int from = head * headSize + 2 * pair + member;
                    int to = head * headSize + member * half + pair;
                    System.arraycopy(weight, from * columns, out, to * columns, columns);
                }
            }
        }
        return out;
    }
}
