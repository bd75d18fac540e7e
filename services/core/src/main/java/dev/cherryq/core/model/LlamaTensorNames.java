package dev.cherryq.core.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face tensor names of a LLaMA-style decoder and the shape each must have, in [out, in] layout: LLaMA-2's,
 * plus what the config's {@link ModelFamily} adds (Qwen2's q/k/v biases, Qwen3's per-head q/k norms).
 */
public final class LlamaTensorNames {

    public static final String EMBED_TOKENS = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    /** The seven linear projections of a decoder layer: the quantization candidates. */
    public enum Projection {
        Q("self_attn.q_proj"),
        K("self_attn.k_proj"),
        V("self_attn.v_proj"),
        O("self_attn.o_proj"),
        GATE("mlp.gate_proj"),
        UP("mlp.up_proj"),
        DOWN("mlp.down_proj");

        private final String path;

        Projection(String path) {
            this.path = path;
        }

        public String tensorName(int layer) {
            return "model.layers." + layer + "." + path + ".weight";
        }

        /** The projection's bias, e.g. model.layers.0.self_attn.q_proj.bias (only where the family has one). */
        public String biasName(int layer) {
            return "model.layers." + layer + "." + path + ".bias";
        }

        /** Whether this projection has a bias in the config's family: q, k and v in Qwen2, none elsewhere. */
        public boolean hasBias(LlamaConfig config) {
            return config.family().queryKeyValueBiases() && (this == Q || this == K || this == V);
        }

        /** [out, in] for this projection under the given architecture. */
        public long[] shape(LlamaConfig config) {
            return switch (this) {
                case Q -> new long[] {config.queryDim(), config.hiddenSize()};
                case K, V -> new long[] {config.keyValueDim(), config.hiddenSize()};
                case O -> new long[] {config.hiddenSize(), config.queryDim()};
                case GATE, UP -> new long[] {config.intermediateSize(), config.hiddenSize()};
                case DOWN -> new long[] {config.hiddenSize(), config.intermediateSize()};
            };
        }
    }

    private LlamaTensorNames() {}

    public static String attentionNorm(int layer) {
        return "model.layers." + layer + ".input_layernorm.weight";
    }

    public static String mlpNorm(int layer) {
        return "model.layers." + layer + ".post_attention_layernorm.weight";
    }

    /** Qwen3's RMSNorm weight over each query head, [head_dim]. */
    public static String queryNorm(int layer) {
        return "model.layers." + layer + ".self_attn.q_norm.weight";
    }

    /** Qwen3's RMSNorm weight over each key head, [head_dim]. */
    public static String keyNorm(int layer) {
        return "model.layers." + layer + ".self_attn.k_norm.weight";
    }

    /**
     * Every tensor the architecture needs, with its expected shape: per layer the attention norm, the seven
     * projections, the family's biases and q/k norms, the MLP norm.
     */
    public static List<NamedShape> expected(LlamaConfig config) {
        List<NamedShape> names = new ArrayList<>();
        long hidden = config.hiddenSize();
        names.add(new NamedShape(EMBED_TOKENS, new long[] {config.vocabSize(), hidden}));
        for (int layer = 0; layer < config.numberOfLayers(); layer++) {
            names.add(new NamedShape(attentionNorm(layer), new long[] {hidden}));
            for (Projection projection : Projection.values()) {
                names.add(new NamedShape(projection.tensorName(layer), projection.shape(config)));
            }
            for (Projection projection : Projection.values()) {
                if (projection.hasBias(config)) {
                    names.add(new NamedShape(projection.biasName(layer), new long[] {projection.shape(config)[0]}));
                }
            }
            if (config.family().queryKeyNorms()) {
                names.add(new NamedShape(queryNorm(layer), new long[] {config.headDim()}));
                names.add(new NamedShape(keyNorm(layer), new long[] {config.headDim()}));
            }
            names.add(new NamedShape(mlpNorm(layer), new long[] {hidden}));
        }
        names.add(new NamedShape(FINAL_NORM, new long[] {hidden}));
        if (!config.tieWordEmbeddings()) {
            names.add(new NamedShape(LM_HEAD, new long[] {config.vocabSize(), hidden}));
        }
        return names;
    }

    /** Every quantizable linear weight with its [out, in] shape, layer by layer. */
    public static java.util.Map<String, long[]> linearWeightShapes(LlamaConfig config) {
        java.util.Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        for (int layer = 0; layer < config.numberOfLayers(); layer++) {
            for (Projection projection : Projection.values()) {
                shapes.put(projection.tensorName(layer), projection.shape(config));
            }
        }
        return shapes;
    }

    /** The names of all quantizable linear weights, layer by layer. */
    public static List<String> linearWeights(LlamaConfig config) {
        List<String> names = new ArrayList<>();
        for (int layer = 0; layer < config.numberOfLayers(); layer++) {
            for (Projection projection : Projection.values()) {
                names.add(projection.tensorName(layer));
            }
        }
        return names;
    }

    /** The decoder layer a tensor belongs to, or -1 for the embeddings, the final norm and the head. */
    public static int layerOf(String name) {
        if (!name.startsWith("model.layers.")) {
            return -1;
        }
        int from = "model.layers.".length();
        return Integer.parseInt(name.substring(from, name.indexOf('.', from)));
    }

    public record NamedShape(String name, long[] shape) {}
}
