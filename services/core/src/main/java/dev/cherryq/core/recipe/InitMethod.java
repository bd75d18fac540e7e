package dev.cherryq.core.recipe;

import dev.cherryq.core.InvalidInputException;

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
        for (InitMethod init : values()) {
            if (init.wireName.equals(name)) {
                return init;
            }
        }
        throw new InvalidInputException(field + " '" + name + "' is not supported (supported: rtn, gptq)");
    }
}
