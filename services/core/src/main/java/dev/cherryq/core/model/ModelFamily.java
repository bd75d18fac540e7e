package dev.cherryq.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * What a checkpoint's decoder family changes from LLaMA-2, read once from config.json: the one place the forward
 * pass ({@link LlamaModel}), the tensor list ({@link LlamaTensorNames}) and the checkpoint reader consult. The
 * families and where their differences come from (Hugging Face transformers' modeling and configuration files):
 * <ul>
 *   <li>{@code LlamaForCausalLM} (modeling_llama.py): LLaMA-2 itself, and Llama-3 / 3.1 / 3.2, which only add
 *       {@code rope_scaling} of type {@code llama3} ({@link Llama3RopeScaling}), a large {@code rope_theta} and, in
 *       the small models, {@code tie_word_embeddings};</li>
 *   <li>{@code MistralForCausalLM} (modeling_mistral.py): LLaMA plus {@code sliding_window}, the number of positions
 *       a query sees, itself included ({@link #attends}); null means full causal attention;</li>
 *   <li>{@code Qwen2ForCausalLM} (modeling_qwen2.py; Qwen2 and Qwen2.5): biases on q_proj, k_proj and v_proj, none on
 *       o_proj; its {@code sliding_window} is used only when {@code use_sliding_window} is true, which is refused;</li>
 *   <li>{@code Qwen3ForCausalLM} (modeling_qwen3.py): an explicit {@code head_dim}, and an RMSNorm over each head's
 *       query and key ({@code self_attn.q_norm}, {@code self_attn.k_norm}, weight [head_dim]) before RoPE; no biases.</li>
 * </ul>
 * Everything else is refused when read, with a one-line message naming the field and what is supported.
 *
 * @param architecture the family's fixed traits
 * @param ropeScaling Llama-3's RoPE frequency scaling, or null for plain RoPE
 * @param slidingWindow positions a query attends to, itself included; 0 for full causal attention
 */
public record ModelFamily(Architecture architecture, Llama3RopeScaling ropeScaling, int slidingWindow) {

    /** Plain LLaMA-2: no biases, no q/k norms, plain RoPE, full causal attention. */
    public static final ModelFamily LLAMA_2 = new ModelFamily(Architecture.LLAMA, null, 0);

    /**
     * The same in every JVM: a record's own hashCode would take the enum's, which is an object identity, and
     * {@code LlamaConfig.hashCode()} names the model in Fisher partials that scorers in other processes merge.
     */
    @Override
    public int hashCode() {
        return java.util.Objects.hash(architecture.name(), ropeScaling, slidingWindow);
    }

    /** A family's fixed traits, keyed by its HF {@code architectures} name. */
    public enum Architecture {
        LLAMA("LlamaForCausalLM", "llama", false, false, Window.NONE, false),
        MISTRAL("MistralForCausalLM", "mistral", false, false, Window.SLIDING_WINDOW, false),
        QWEN2("Qwen2ForCausalLM", "qwen2", true, false, Window.USE_SLIDING_WINDOW, false),
        QWEN3("Qwen3ForCausalLM", "qwen3", false, true, Window.USE_SLIDING_WINDOW, true);

        private final String hfName;
        private final String modelType;
        private final boolean queryKeyValueBiases;
        private final boolean queryKeyNorms;
        private final Window window;
        private final boolean headDimRequired;

        Architecture(String hfName, String modelType, boolean queryKeyValueBiases, boolean queryKeyNorms,
                Window window, boolean headDimRequired) {
            this.hfName = hfName;
            this.modelType = modelType;
            this.queryKeyValueBiases = queryKeyValueBiases;
            this.queryKeyNorms = queryKeyNorms;
            this.window = window;
            this.headDimRequired = headDimRequired;
        }

        /** The HF class name, as config.json's {@code architectures} lists it. */
        public String hfName() {
            return hfName;
        }

        /** config.json's {@code model_type}. */
        public String modelType() {
            return modelType;
        }

        /**
         * Whether config.json must give {@code head_dim}: Qwen3's configuration defaults it to 128, not to
         * hidden_size / num_attention_heads, so a Qwen3 config without it is refused rather than guessed.
         */
        public boolean headDimRequired() {
            return headDimRequired;
        }

        static String supported() {
            return Arrays.stream(values()).map(Architecture::hfName).collect(Collectors.joining(", "));
        }
    }

    /** How a family's config.json states its attention window. */
    private enum Window {
        /** No window key: full causal attention (LLaMA). */
        NONE,
        /** {@code sliding_window}: an integer, or null for full attention (Mistral). */
        SLIDING_WINDOW,
        /** {@code sliding_window} applies only under {@code use_sliding_window: true}, which is refused (Qwen). */
        USE_SLIDING_WINDOW
    }

    public ModelFamily {
        if (architecture == null) {
            throw new IllegalArgumentException("architecture is required");
        }
        if (slidingWindow < 0) {
            throw new InvalidInputException("config: sliding_window = " + slidingWindow + " is invalid (must be "
                    + "positive, or null for full attention)");
        }
        if (slidingWindow > 0 && architecture.window != Window.SLIDING_WINDOW) {
            throw new InvalidInputException("config: a sliding window is not supported for " + architecture.hfName
                    + " (only MistralForCausalLM)");
        }
    }

    /** Whether q_proj, k_proj and v_proj carry a bias ({@code self_attn.q_proj.bias}, ...); o_proj never does. */
    public boolean queryKeyValueBiases() {
        return architecture.queryKeyValueBiases;
    }

    /** Whether each head's query and key go through an RMSNorm of weight [head_dim] before RoPE. */
    public boolean queryKeyNorms() {
        return architecture.queryKeyNorms;
    }

    public boolean hasSlidingWindow() {
        return slidingWindow > 0;
    }

    /**
     * Whether the query at position {@code query} attends to the key at position {@code key}: causally, and with a
     * sliding window W only to the last W positions, itself included ({@code query - W < key <= query}). This is HF
     * transformers' convention (masking_utils.sliding_window_overlay: {@code kv_idx > q_idx - sliding_window}).
     */
    public boolean attends(int query, int key) {
        return key <= query && (slidingWindow == 0 || key > query - slidingWindow);
    }

    /**
     * RoPE's inverse frequencies for the rotated pairs i = 0 .. headDim/2 - 1: theta^(-2i/headDim), then rescaled
     * by Llama-3's rope_scaling when there is one.
     */
    public double[] inverseFrequencies(double theta, int headDim) {
        double[] frequencies = new double[headDim / 2];
        for (int i = 0; i < frequencies.length; i++) {
            double plain = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            frequencies[i] = ropeScaling == null ? plain : ropeScaling.scale(plain);
        }
        return frequencies;
    }

    /** What this family changes from LLaMA-2, in words ("none" for LLaMA-2 itself); for inspect. */
    public String differences() {
        java.util.List<String> parts = new java.util.ArrayList<>();
        if (queryKeyValueBiases()) {
            parts.add("q/k/v biases");
        }
        if (queryKeyNorms()) {
            parts.add("per-head q/k RMSNorm");
        }
        if (ropeScaling != null) {
            parts.add("llama3 rope scaling (factor " + ropeScaling.factor() + ", low_freq_factor "
                    + ropeScaling.lowFreqFactor() + ", high_freq_factor " + ropeScaling.highFreqFactor()
                    + ", original context " + ropeScaling.originalMaxPositionEmbeddings() + ")");
        }
        if (slidingWindow > 0) {
            parts.add("sliding window " + slidingWindow);
        }
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }

    /** The same family with another window (0 = none); for tests that compare a model with and without one. */
    public ModelFamily withSlidingWindow(int window) {
        return new ModelFamily(architecture, ropeScaling, window);
    }

    /**
     * Llama-3.1's RoPE frequency scaling ({@code rope_scaling.rope_type = "llama3"}; HF
     * modeling_rope_utils._compute_llama3_parameters, Meta's llama-models apply_scaling). With the wavelength
     * {@code 2 pi / f} of an inverse frequency f and {@code L = original_max_position_embeddings}: wavelengths under
     * {@code L / high_freq_factor} (high frequencies) are kept; wavelengths over {@code L / low_freq_factor} (low
     * frequencies) are divided by {@code factor}; in between, {@code (1 - s) f / factor + s f} with
     * {@code s = (L / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)}.
     */
    public record Llama3RopeScaling(double factor, double lowFreqFactor, double highFreqFactor,
            int originalMaxPositionEmbeddings) {

        public Llama3RopeScaling {
            if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)
                    || originalMaxPositionEmbeddings <= 0) {
                throw new InvalidInputException("config: rope_scaling (llama3) needs factor > 0, 0 < low_freq_factor "
                        + "< high_freq_factor and original_max_position_embeddings > 0; got factor " + factor
                        + ", low_freq_factor " + lowFreqFactor + ", high_freq_factor " + highFreqFactor
                        + ", original_max_position_embeddings " + originalMaxPositionEmbeddings);
            }
        }

        /** The scaled inverse frequency of a plain one. */
        public double scale(double inverseFrequency) {
            double wavelength = 2 * Math.PI / inverseFrequency;
            double lowFrequencyWavelength = originalMaxPositionEmbeddings / lowFreqFactor;
            double highFrequencyWavelength = originalMaxPositionEmbeddings / highFreqFactor;
            if (wavelength < highFrequencyWavelength) {
                return inverseFrequency; // high frequency: kept
            }
            if (wavelength > lowFrequencyWavelength) {
                return inverseFrequency / factor; // low frequency: stretched by the factor
            }
            // medium frequency: smooth interpolation between the two
            double smooth = (originalMaxPositionEmbeddings / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            return (1 - smooth) * inverseFrequency / factor + smooth * inverseFrequency;
        }
    }

    /**
     * Reads the family from config.json's {@code architectures} (or {@code model_type} when it has none), its
     * {@code rope_scaling} and its window; refuses the rest naming the field.
     */
    static ModelFamily parse(JsonNode root) {
        Architecture architecture = architectureOf(root);
        for (String field : new String[] {"attention_bias", "mlp_bias"}) {
            // Qwen2's biases are fixed by its architecture; an attention_bias flag elsewhere would add o_proj's too
            if (root.path(field).asBoolean(false)) {
                throw new InvalidInputException(field + " = true is not supported for " + architecture.hfName
                        + " (supported: false" + (architecture.queryKeyValueBiases ? "; its q/k/v biases are implied"
                        : "; q/k/v biases are read for Qwen2ForCausalLM only") + ")");
            }
        }
        return new ModelFamily(architecture, ropeScaling(root), slidingWindow(root, architecture));
    }

    private static Architecture architectureOf(JsonNode root) {
        JsonNode architectures = root.path("architectures");
        String modelType = root.path("model_type").asText("");
        if (architectures.isArray() && architectures.size() > 0) {
            String name = architectures.get(0).asText();
            Architecture found = Arrays.stream(Architecture.values()).filter(a -> a.hfName.equals(name)).findFirst()
                    .orElseThrow(() -> new InvalidInputException("architectures ['" + name + "'] is not supported "
                            + "(supported: " + Architecture.supported() + ")"));
            if (!modelType.isEmpty() && Arrays.stream(Architecture.values()).noneMatch(a -> a.modelType.equals(modelType))) {
                throw new InvalidInputException("model_type '" + modelType + "' is not supported (supported: "
                        + Arrays.stream(Architecture.values()).map(a -> a.modelType).collect(Collectors.joining(", "))
                        + ")");
            }
            if (!modelType.isEmpty() && !modelType.equals(found.modelType)) {
                throw new InvalidInputException("model_type '" + modelType + "' does not match architectures ['"
                        + name + "'] (expected '" + found.modelType + "')");
            }
            return found;
        }
        return Arrays.stream(Architecture.values()).filter(a -> a.modelType.equals(modelType)).findFirst()
                .orElseThrow(() -> new InvalidInputException("architectures is missing and model_type '" + modelType
                        + "' is not supported (supported architectures: " + Architecture.supported() + ")"));
    }

    /**
     * {@code rope_scaling} (or transformers 5's {@code rope_parameters}): null, absent or of type {@code default} is
     * plain RoPE; {@code llama3} is read; any other type is refused.
     */
    private static Llama3RopeScaling ropeScaling(JsonNode root) {
        String field = root.hasNonNull("rope_scaling") ? "rope_scaling" : "rope_parameters";
        JsonNode scaling = root.get(field);
        if (scaling == null || scaling.isNull()) {
            return null;
        }
        String type = scaling.path("rope_type").asText(scaling.path("type").asText(""));
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw new InvalidInputException(field + ".rope_type '" + type + "' is not supported (supported: llama3, "
                    + "or " + field + " null)");
        }
        return new Llama3RopeScaling(
                requiredNumber(scaling, field, "factor"),
                requiredNumber(scaling, field, "low_freq_factor"),
                requiredNumber(scaling, field, "high_freq_factor"),
                (int) requiredNumber(scaling, field, "original_max_position_embeddings"));
    }

    private static double requiredNumber(JsonNode scaling, String field, String key) {
        JsonNode value = scaling.get(key);
        if (value == null || !value.isNumber()) {
            throw new InvalidInputException(field + "." + key + " must be a number for rope_type llama3, got "
                    + (value == null ? "nothing" : value));
        }
        return value.asDouble();
    }

    private static int slidingWindow(JsonNode root, Architecture architecture) {
        JsonNode layerTypes = root.path("layer_types");
        for (JsonNode layerType : layerTypes) {
            if (!layerType.asText().equals("full_attention")) {
                throw new InvalidInputException("layer_types '" + layerType.asText() + "' is not supported "
                        + "(supported: full_attention in every layer)");
            }
        }
        switch (architecture.window) {
            case SLIDING_WINDOW:
                JsonNode window = root.get("sliding_window");
                if (window == null || window.isNull()) {
                    return 0;
                }
                if (!window.isIntegralNumber() || !window.canConvertToInt() || window.asInt() <= 0) {
                    throw new InvalidInputException("sliding_window = " + window + " is invalid (must be a positive "
                            + "integer, or null for full attention)");
                }
                return window.asInt();
            case USE_SLIDING_WINDOW:
                if (root.path("use_sliding_window").asBoolean(false)) {
                    throw new InvalidInputException("use_sliding_window = true is not supported for "
                            + architecture.hfName + " (supported: false; its windowed layers depend on "
                            + "max_window_layers)");
                }
                return 0;
            default:
                return 0;
        }
    }

    /** Writes the family's fields into an HF config.json, so that {@link #parse} reads this family back. */
    void writeHfJson(ObjectNode root) {
        root.putArray("architectures").add(architecture.hfName);
        root.put("model_type", architecture.modelType);
        if (architecture != Architecture.QWEN2) {
            root.put("attention_bias", false);
        }
        if (architecture == Architecture.LLAMA) {
            root.put("mlp_bias", false);
        }
        if (ropeScaling == null) {
            root.putNull("rope_scaling");
        } else {
            ObjectNode scaling = root.putObject("rope_scaling");
            scaling.put("rope_type", "llama3");
            scaling.put("factor", ropeScaling.factor());
            scaling.put("low_freq_factor", ropeScaling.lowFreqFactor());
            scaling.put("high_freq_factor", ropeScaling.highFreqFactor());
            scaling.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
        }
        switch (architecture.window) {
            case SLIDING_WINDOW -> {
                if (slidingWindow > 0) {
                    root.put("sliding_window", slidingWindow);
                } else {
                    root.putNull("sliding_window");
                }
            }
            case USE_SLIDING_WINDOW -> {
                root.put("use_sliding_window", false);
                root.putNull("sliding_window");
            }
            default -> { }
        }
    }
}
