package dev.cherryq.core.qat;

import dev.cherryq.core.WireNames;

/**
 * Which of the model's tensors QAT updates. The CherryQ reference trains every parameter; the quantized decoder
 * linear weights (their normal weights and cherries) are what the method is about, and the rest (token embeddings,
 * RMSNorm gains, lm_head) stays in full precision either way.
 */
public enum TrainableParameters {
    /** Every parameter, as the reference does. */
    ALL("all"),
    /**
     * Only the decoder linear weights; embeddings, norms, lm_head and the families' biases and q/k norms keep their
     * full-precision values.
     */
    LINEAR("linear");

    private final String wireName;

    TrainableParameters(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static TrainableParameters parse(String field, String name) {
        return WireNames.parse(field, name, values(), TrainableParameters::wireName);
    }

    public static String names() {
        return WireNames.names(values(), TrainableParameters::wireName);
    }
}
