package dev.cherryq.core.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face tensor names of a LlamaForCausalLM and the shape each must have, in [out, in] layout.
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

    /** Every tensor the architecture needs, with its expected shape. */
    public static List<NamedShape> expected(LlamaConfig config) {
        List<NamedShape> names = new ArrayList<>();
        long hidden = config.hiddenSize();
        names.add(new NamedShape(EMBED_TOKENS, new long[] {config.vocabSize(), hidden}));
        for (int layer = 0; layer < config.numberOfLayers(); layer++) {
            names.add(new NamedShape(attentionNorm(layer), new long[] {hidden}));
            for (Projection projection : Projection.values()) {
                names.add(new NamedShape(projection.tensorName(layer), projection.shape(config)));
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
