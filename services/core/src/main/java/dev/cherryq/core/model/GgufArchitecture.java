package dev.cherryq.core.model;

/**
 * What a {@link ModelFamily} becomes in GGUF: the llama.cpp architecture it is written as, and everything that
 * architecture changes in the file. The one place the GGUF export ({@link LlamaGgufExport}) asks; it has no branch
 * per family. Sources: llama.cpp's converter (convert_hf_to_gguf.py: {@code LlamaModel} is registered for
 * {@code LlamaForCausalLM} and {@code MistralForCausalLM}, {@code Qwen2Model} for {@code Qwen2ForCausalLM},
 * {@code Qwen3Model} for {@code Qwen3ForCausalLM}), its key and tensor names (gguf-py/gguf/constants.py,
 * src/llama-arch.cpp) and how each architecture applies RoPE (src/llama-model.cpp: {@code LLAMA_ROPE_TYPE_NORM} for
 * {@code llama}, {@code LLAMA_ROPE_TYPE_NEOX} for {@code qwen2} and {@code qwen3}).
 * <ul>
 *   <li>{@code llama} ({@code LlamaForCausalLM}, {@code MistralForCausalLM}): RoPE over adjacent pairs, so HF's q/k
 *       rows are permuted; Llama-3's rope scaling as the {@code rope_freqs} tensor. Mistral's sliding window is
 *       written as {@code llama.attention.sliding_window}, which llama.cpp's {@code llama} architecture does not
 *       apply: the file computes the model only for contexts up to the window (docs/EXPORTS.md);</li>
 *   <li>{@code qwen2}: RoPE over halves (NEOX), as HF: no permutation; q/k/v biases as
 *       {@code blk.N.attn_q|attn_k|attn_v.bias};</li>
 *   <li>{@code qwen3}: NEOX RoPE; per-head q/k norms as {@code blk.N.attn_q_norm|attn_k_norm.weight}; key and value
 *       length always written (its head_dim is not hidden_size / heads in the published models).</li>
 * </ul>
 */
public enum GgufArchitecture {

    LLAMA("llama", true, false),
    QWEN2("qwen2", false, false),
    QWEN3("qwen3", false, true);

    private final String name;
    private final boolean adjacentPairRope;
    private final boolean explicitHeadLengths;

    GgufArchitecture(String name, boolean adjacentPairRope, boolean explicitHeadLengths) {
        this.name = name;
        this.adjacentPairRope = adjacentPairRope;
        this.explicitHeadLengths = explicitHeadLengths;
    }

    /** The architecture llama.cpp's converter writes a family as. */
    public static GgufArchitecture of(ModelFamily family) {
        return switch (family.architecture()) {
            case LLAMA, MISTRAL -> LLAMA;
            case QWEN2 -> QWEN2;
            case QWEN3 -> QWEN3;
        };
    }

    /** {@code general.architecture}, and the prefix of the architecture's keys. */
    public String ggufName() {
        return name;
    }

    /**
     * Whether llama.cpp rotates adjacent pairs (2i, 2i + 1) here ({@code LLAMA_ROPE_TYPE_NORM}), so HF's rotate-half
     * q/k rows must be permuted; false for NEOX RoPE, which rotates (i, i + d/2) as HF does.
     */
    public boolean permutesQueryKeyRows() {
        return adjacentPairRope;
    }

    /** Whether {@code attention.key_length} and {@code value_length} are written even when head_dim = hidden / heads. */
    public boolean writesHeadLengthsAlways() {
        return explicitHeadLengths;
    }

    /**
     * Refuses, in one line, a checkpoint this architecture cannot hold: llama.cpp's {@code qwen2} sizes q_proj's
     * output and o_proj's input as embedding_length (src/models/qwen2.cpp), so head_dim x heads must equal
     * hidden_size there.
     */
    public void requireHolds(LlamaConfig config) {
        if (this == QWEN2 && config.queryDim() != config.hiddenSize()) {
            throw new dev.cherryq.core.InvalidInputException("GGUF export: llama.cpp's qwen2 architecture needs head_dim x "
                    + "num_attention_heads = hidden_size, and this " + config.family().architecture().hfName()
                    + " has " + config.headDim() + " x " + config.numberOfHeads() + " = " + config.queryDim() + " against "
                    + config.hiddenSize() + " (export it as an HF folder instead)");
        }
    }

    /** The key {@code ARCH.suffix}, e.g. {@code qwen2.context_length}. */
    public String key(String suffix) {
        return name + "." + suffix;
    }
}
