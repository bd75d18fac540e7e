package dev.cherryq.core.recipe;

import dev.cherryq.core.WireNames;

/** How the normal weights are quantized. */
public enum QuantMethod {
    /** Round to nearest, no data. */
    RTN("rtn"),
    /** GPTQ (Frantar et al., 2023): rounding with second-order error compensation from calibration activations. */
    GPTQ("gptq"),
    /** Quantization-aware training of every linear weight through the straight-through estimator. */
    QAT("qat"),
    /** CherryQ (Cui and Wang, 2024): cherries kept in full precision, trained together with the quantized rest. */
    CHERRYQ("cherryq");

    private final String wireName;

    QuantMethod(String wireName) {
        this.wireName = wireName;
    }

    /** The name used on the command line, in JSON requests and in result tables. */
    public String wireName() {
        return wireName;
    }

    public boolean trains() {
        return this == QAT || this == CHERRYQ;
    }

    /** Parses a wire name; the error names {@code field} and the supported values. */
    public static QuantMethod parse(String field, String name) {
        return WireNames.parse(field, name, values(), QuantMethod::wireName);
    }

    public static String names() {
        return WireNames.names(values(), QuantMethod::wireName);
    }
}
