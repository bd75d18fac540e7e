package dev.cherryq.core.recipe;

import dev.cherryq.core.WireNames;

/**
 * Where training starts. QAT keeps latent full-precision weights and rounds them in every forward pass, so its
 * starting point is the weights whose rounding it begins from: the model itself (round to nearest), or GPTQ's
 * latent weights, which round to GPTQ's codes (GPTQ-initialized CherryQ: cherries are kept out of GPTQ's rounding).
 */
public enum InitMethod {
    RTN("rtn"),
    GPTQ("gptq");

    private final String wireName;

    InitMethod(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static InitMethod parse(String field, String name) {
        return WireNames.parse(field, name, values(), InitMethod::wireName);
    }
}
