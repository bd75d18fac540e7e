package dev.cherryq.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Scalars;
import dev.cherryq.core.format.TensorSource;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A LLaMA decoder (Touvron et al., 2023; HF LlamaForCausalLM) on DJL PyTorch in f32, differentiable end to end.
 * Per layer: RMSNorm, attention with rotate-half RoPE and grouped-query heads, residual; RMSNorm, SiLU-gated
 * MLP, residual. Then a final RMSNorm and the (possibly tied) output head. The config's {@link ModelFamily} adds
 * what Mistral, Qwen2 and Qwen3 change: q/k/v biases, per-head q/k RMSNorm, Llama-3 RoPE frequencies and a sliding
 * attention window; the forward asks it, and has no branch of its own per family.
 *
 * <p>Memory: parameters live in the model's manager. Each forward runs inside a step manager from
 * {@link #newStep()}, to which the parameters are temporarily attached, so every intermediate (and the
 * result) is freed when the step closes.
 */
public final class LlamaModel implements AutoCloseable {

    private final LlamaConfig config;
    private final NDManager manager;
    /** HF name to parameter; linear weights are [out, in]. */
    private final Map<String, NDArray> parameters;
    /** (maxPositions, headDim): RoPE cos and sin in rotate-half layout. */
    private final NDArray ropeCos;
    private final NDArray ropeSin;
    private LinearWeightTransform linearTransform = LinearWeightTransform.IDENTITY;
    private LinearInputObserver linearInputObserver = LinearInputObserver.NONE;

    private LlamaModel(LlamaConfig config, NDManager manager, Map<String, NDArray> parameters) {
        this.config = config;
        this.manager = manager;
        this.parameters = parameters;
        float[][] tables = ropeTables(config, config.maxPositionEmbeddings());
        long[] shape = {config.maxPositionEmbeddings(), config.headDim()};
        this.ropeCos = NativeArrays.of(manager, tables[0], new Shape(shape));
        this.ropeSin = NativeArrays.of(manager, tables[1], new Shape(shape));
    }

    /** Loads every tensor of the checkpoint into f32 NDArrays, one tensor at a time. */
    public static LlamaModel load(LlamaCheckpoint checkpoint) {
        return load(checkpoint, name -> true);
    }

    /**
     * Loads the embeddings, the final norm and the head only: a model whose decoder blocks are read one at a time
     * with {@link #loadBlock} and run with {@link #block} (depth-streamed scoring and evaluation). {@link #forward}
     * needs every block and fails on such a model.
     */
    public static LlamaModel loadWithoutBlocks(LlamaCheckpoint checkpoint) {
        return load(checkpoint, name -> LlamaTensorNames.layerOf(name) < 0);
    }

    /**
     * A model with no parameters of its own, to run decoder blocks whose tensors the caller holds ({@link #block}):
     * block-wise training, which needs neither the embeddings nor the head.
     */
    public static LlamaModel forBlocks(LlamaConfig config) {
        return new LlamaModel(config, DjlRuntime.newManager(), Map.of());
    }

    /** One decoder block's tensors (norms and linear weights, by HF name) as f32 arrays in {@code manager}. */
    public static Map<String, NDArray> loadBlock(LlamaCheckpoint checkpoint, int layer, NDManager manager) {
        Map<String, NDArray> block = new LinkedHashMap<>();
        for (LlamaTensorNames.NamedShape expected : LlamaTensorNames.expected(checkpoint.config())) {
            if (LlamaTensorNames.layerOf(expected.name()) == layer) {
                NDArray parameter = NativeArrays.of(manager, checkpoint.tensors().readFloats(expected.name()),
                        new Shape(expected.shape()));
                parameter.setName(expected.name());
                block.put(expected.name(), parameter);
            }
        }
        return block;
    }

    private static LlamaModel load(LlamaCheckpoint checkpoint, java.util.function.Predicate<String> include) {
        LlamaConfig config = checkpoint.config();
        NDManager manager = DjlRuntime.newManager();
        try {
            Map<String, NDArray> parameters = new LinkedHashMap<>();
            TensorSource tensors = checkpoint.tensors();
            for (LlamaTensorNames.NamedShape expected : LlamaTensorNames.expected(config)) {
                if (!include.test(expected.name())) {
                    continue;
                }
                float[] values = tensors.readFloats(expected.name());
                NDArray parameter = NativeArrays.of(manager, values, new Shape(expected.shape()));
                parameter.setName(expected.name());
                parameters.put(expected.name(), parameter);
            }
            return new LlamaModel(config, manager, Collections.unmodifiableMap(parameters));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Builds a model from named f32 arrays (HF names and shapes); used by tests and trainers. */
    public static LlamaModel fromTensors(LlamaConfig config, TensorSource tensors) {
        return load(new LlamaCheckpoint(null, "memory", config, tensors));
    }

    public LlamaConfig config() {
        return config;
    }

    /** Parameters by HF name (read-only map; the arrays themselves are live). */
    public Map<String, NDArray> parameters() {
        return parameters;
    }

    /** Sets what the forward pass uses in place of each decoder linear weight (identity by default). */
    public void setLinearWeightTransform(LinearWeightTransform transform) {
        this.linearTransform = transform == null ? LinearWeightTransform.IDENTITY : transform;
    }

    /** Sets what sees the input of each decoder linear layer during forward (none by default); GPTQ uses it. */
    public void setLinearInputObserver(LinearInputObserver observer) {
        this.linearInputObserver = observer == null ? LinearInputObserver.NONE : observer;
    }

    /** Sees the input of each decoder linear layer as the forward pass reaches it. */
    @FunctionalInterface
    public interface LinearInputObserver {

        LinearInputObserver NONE = (name, input) -> { };

        /**
         * @param name the HF tensor name of the linear weight, e.g. model.layers.0.self_attn.q_proj.weight
         * @param input (batch, seq, in) the layer's input, in the current step; do not close or modify it
         */
        void observe(String name, NDArray input);
    }

    /** Marks every parameter as requiring gradients (for training under a GradientCollector). */
    public void attachGradients() {
        parameters.values().forEach(p -> p.setRequiresGradient(true));
    }

    /** A step scope: parameters are temporarily attached to it, and everything computed in it is freed on close. */
    public NDManager newStep() {
        NDManager step = manager.newSubManager();
        for (NDArray parameter : parameters.values()) {
            parameter.tempAttach(step);
        }
        ropeCos.tempAttach(step);
        ropeSin.tempAttach(step);
        return step;
    }

    /**
     * Logits for every position.
     *
     * @param step a scope from {@link #newStep()}
     * @param tokenIds (batch, seq) int64 token ids, each in [0, vocab_size)
     * @return (batch, seq, vocab) f32 logits
     */
    public NDArray forward(NDManager step, NDArray tokenIds) {
        NDArray x = embed(step, tokenIds); // (batch, seq, hidden)
        long seq = tokenIds.getShape().get(1);
        NDArray cos = ropeCos.get(new NDIndex("0:{}", seq)); // (seq, headDim)
        NDArray sin = ropeSin.get(new NDIndex("0:{}", seq)); // (seq, headDim)
        NDArray mask = attentionMask(step, seq); // (seq, seq): 0 where a query attends to a key, -inf elsewhere
        for (int layer = 0; layer < config.numberOfLayers(); layer++) {
            x = block(step, x, layer, this::param, cos, sin, mask);
        }
        return logits(step, x);
    }

    /**
     * Token embeddings, the input of the first block.
     *
     * @param tokenIds (batch, seq) int64 token ids
     * @return (batch, seq, hidden) f32
     */
    public NDArray embed(NDManager step, NDArray tokenIds) {
        long batch = tokenIds.getShape().get(0);
        long seq = tokenIds.getShape().get(1);
        if (seq > config.maxPositionEmbeddings()) {
            throw new InvalidInputException("sequence length " + seq + " exceeds max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        // token embedding lookup: (batch*seq) -> (batch, seq, hidden)
        return param(LlamaTensorNames.EMBED_TOKENS).get(new NDIndex("{}", tokenIds.reshape(-1)))
                .reshape(batch, seq, config.hiddenSize());
    }

    /**
     * One decoder block on its input, with the block's weights from {@code weights} (this model's own, or a block
     * read alone with {@link #loadBlock}).
     *
     * @param x (batch, seq, hidden) the block's input
     * @return (batch, seq, hidden) its output
     */
    public NDArray block(NDManager step, NDArray x, int layer, Map<String, NDArray> weights) {
        long seq = x.getShape().get(1);
        return block(step, x, layer, weights::get, ropeCos.get(new NDIndex("0:{}", seq)),
                ropeSin.get(new NDIndex("0:{}", seq)), attentionMask(step, seq));
    }

    private NDArray block(NDManager step, NDArray x, int layer, java.util.function.Function<String, NDArray> weights,
            NDArray cos, NDArray sin, NDArray mask) {
        long batch = x.getShape().get(0);
        long seq = x.getShape().get(1);
        // attention rmsnorm
        NDArray normed = rmsNorm(step, x, weights.apply(LlamaTensorNames.attentionNorm(layer)));
        // q, k, v projections (with the family's biases): (batch, seq, heads*headDim) -> (batch, heads, seq, headDim)
        NDArray q = heads(linear(normed, LlamaTensorNames.Projection.Q, layer, weights), config.numberOfHeads());
        NDArray k = heads(linear(normed, LlamaTensorNames.Projection.K, layer, weights), config.numberOfKeyValueHeads());
        NDArray v = heads(linear(normed, LlamaTensorNames.Projection.V, layer, weights), config.numberOfKeyValueHeads());
        if (config.family().queryKeyNorms()) {
            // per-head RMSNorm of q and k over headDim, before RoPE (Qwen3)
            q = rmsNorm(step, q, weights.apply(LlamaTensorNames.queryNorm(layer)));
            k = rmsNorm(step, k, weights.apply(LlamaTensorNames.keyNorm(layer)));
        }
        // RoPE on q and k
        q = rope(q, cos, sin);
        k = rope(k, cos, sin);
        // grouped-query attention: each kv head serves queriesPerKeyValueHead consecutive query heads
        if (config.queriesPerKeyValueHead() > 1) {
            k = k.repeat(1, config.queriesPerKeyValueHead());
            v = v.repeat(1, config.queriesPerKeyValueHead());
        }
        // scaled dot-product scores with the causal (and sliding-window) mask: (batch, heads, seq, seq)
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(Scalars.of(step, (float) (1.0 / Math.sqrt(config.headDim()))))
                .add(mask);
        NDArray attended = scores.softmax(-1).matMul(v); // (batch, heads, seq, headDim)
        NDArray merged = attended.transpose(0, 2, 1, 3).reshape(batch, seq, config.queryDim());
        // output projection and residual
        x = x.add(linear(merged, LlamaTensorNames.Projection.O, layer, weights));
        // mlp rmsnorm
        NDArray mlpIn = rmsNorm(step, x, weights.apply(LlamaTensorNames.mlpNorm(layer)));
        // SiLU-gated MLP: down(silu(gate x) * up x), then residual
        NDArray gate = linear(mlpIn, LlamaTensorNames.Projection.GATE, layer, weights);
        NDArray up = linear(mlpIn, LlamaTensorNames.Projection.UP, layer, weights);
        NDArray activated = gate.mul(Activation.sigmoid(gate)).mul(up);
        return x.add(linear(activated, LlamaTensorNames.Projection.DOWN, layer, weights));
    }

    /**
     * The final RMSNorm and the (possibly tied) output head.
     *
     * @param x (batch, seq, hidden) the last block's output
     * @return (batch, seq, vocab) f32 logits
     */
    public NDArray logits(NDManager step, NDArray x) {
        NDArray finalNormed = rmsNorm(step, x, param(LlamaTensorNames.FINAL_NORM));
        NDArray head = config.tieWordEmbeddings() ? param(LlamaTensorNames.EMBED_TOKENS) : param(LlamaTensorNames.LM_HEAD);
        return finalNormed.matMul(head.transpose());
    }

    /**
     * Negative log-likelihood of each next token: position t predicts token t+1.
     *
     * @param tokenIds (batch, seq) int64
     * @return (batch, seq-1) f32 NLL in nats
     */
    public NDArray nextTokenNll(NDManager step, NDArray tokenIds) {
        return nextTokenNll(forward(step, tokenIds), tokenIds);
    }

    /** Log-probabilities of every next token at positions 0..seq-2: (batch, seq-1, vocab). */
    public NDArray nextTokenLogProbabilities(NDManager step, NDArray tokenIds) {
        return nextTokenLogProbabilities(forward(step, tokenIds));
    }

    /** The same from logits (batch, seq, vocab): (batch, seq-1, vocab). */
    public static NDArray nextTokenLogProbabilities(NDArray logits) {
        long seq = logits.getShape().get(1);
        return logits.get(new NDIndex(":, 0:{}, :", seq - 1)).logSoftmax(-1);
    }

    /** Negative log-likelihood of each next token from logits (batch, seq, vocab) and ids (batch, seq): (batch, seq-1). */
    public static NDArray nextTokenNll(NDArray logits, NDArray tokenIds) {
        NDArray targets = tokenIds.get(new NDIndex(":, 1:")).expandDims(-1); // (batch, seq-1, 1)
        return nextTokenLogProbabilities(logits).gather(targets, -1).squeeze(-1).neg();
    }

    /** Creates an int64 (batch, seq) id array in the step, validating ids against the vocabulary. */
    public NDArray tokenArray(NDManager step, long[] ids, int batch, int seq) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new InvalidInputException("token id " + ids[i] + " is outside [0, vocab_size="
                        + config.vocabSize() + ")");
            }
        }
        return NativeArrays.of(step, ids, new Shape(batch, seq));
    }

    private NDArray param(String name) {
        NDArray parameter = parameters.get(name);
        if (parameter == null) {
            throw new IllegalStateException(name + " is not loaded: a model loaded without its blocks runs them one "
                    + "at a time with block(...)");
        }
        return parameter;
    }

    /**
     * x @ W^T (+ b) for the layer's projection, W as the linear-weight transform presents it, b the projection's
     * bias where the family has one (never transformed: biases stay in full precision).
     */
    private NDArray linear(NDArray x, LlamaTensorNames.Projection projection, int layer,
            java.util.function.Function<String, NDArray> weights) {
        String name = projection.tensorName(layer);
        linearInputObserver.observe(name, x);
        NDArray out = x.matMul(linearTransform.apply(name, weights.apply(name)).transpose());
        return projection.hasBias(config) ? out.add(weights.apply(projection.biasName(layer))) : out;
    }

    /** (batch, seq, n*headDim) -> (batch, n, seq, headDim). */
    private NDArray heads(NDArray projected, int count) {
        Shape shape = projected.getShape();
        return projected.reshape(shape.get(0), shape.get(1), count, config.headDim()).transpose(0, 2, 1, 3);
    }

    /** x * rsqrt(mean(x^2) + eps) * weight over the last axis. */
    private NDArray rmsNorm(NDManager step, NDArray x, NDArray weight) {
        NDArray meanSquare = x.square().mean(new int[] {-1}, true);
        NDArray epsilon = Scalars.of(step, (float) config.rmsNormEps());
        return x.mul(meanSquare.add(epsilon).pow(Scalars.of(step, -0.5f))).mul(weight);
    }

    /** HF rotate-half RoPE: x*cos + rotate_half(x)*sin with rotate_half(x) = [-x2, x1]. x: (batch, heads, seq, headDim). */
    private static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
        NDList halves = x.split(2, 3);
        NDArray rotated = NDArrays.concat(new NDList(halves.get(1).neg(), halves.get(0)), 3);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** (seq, seq): 0 where query row attends to key column (causal, within the family's window), -inf elsewhere. */
    private NDArray attentionMask(NDManager step, long seq) {
        int n = Math.toIntExact(seq);
        float[] mask = new float[n * n];
        for (int row = 0; row < n; row++) {
            for (int column = 0; column < n; column++) {
                if (!config.family().attends(row, column)) {
                    mask[row * n + column] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        return NativeArrays.of(step, mask, new Shape(n, n));
    }

    /**
     * cos and sin of position * f_i, duplicated over both halves (HF layout), with f_i the family's inverse
     * frequencies (theta^(-2i/headDim), Llama-3-scaled when the config says so).
     */
    static float[][] ropeTables(LlamaConfig config, int positions) {
        int headDim = config.headDim();
        int half = headDim / 2;
        double[] inverseFrequencies = config.family().inverseFrequencies(config.ropeTheta(), headDim);
        float[] cos = new float[positions * headDim];
        float[] sin = new float[positions * headDim];
        for (int position = 0; position < positions; position++) {
            for (int i = 0; i < half; i++) {
                double angle = position * inverseFrequencies[i];
                cos[position * headDim + i] = (float) Math.cos(angle);
                cos[position * headDim + i + half] = (float) Math.cos(angle);
                sin[position * headDim + i] = (float) Math.sin(angle);
                sin[position * headDim + i + half] = (float) Math.sin(angle);
            }
        }
        return new float[][] {cos, sin};
    }

    public static DataType tokenType() {
        return DataType.INT64;
    }

    @Override
    public void close() {
        manager.close();
    }
}
