package dev.cherryq.core.quant;

import dev.cherryq.core.WireNames;

/** How a group's levels are placed. */
public enum QuantScheme {
    /**
     * CherryQ paper (Cui and Wang, 2024, Sec. 4): scale s = absmax / 2^(b-1); levels (k + 1/2) s for
     * k = -2^(b-1) .. 2^(b-1)-1, symmetric around zero with no zero level, all 2^b codes used.
     */
    SYM_FULL("sym-full"),
    /** Min-max asymmetric: s = (max - min) / (2^b - 1), an integer zero point z = round(-min / s), levels (q - z) s. */
    ASYM("asym"),
    /**
     * GPTQ's symmetric grid ({@code sym=True} in the GPTQ reference's {@code Quantizer}, and in AutoGPTQ, GPTQModel
     * and the 4- and 8-bit kernels of vLLM and SGLang): s = 2 absmax / (2^b - 1), a fixed zero point z = 2^(b-1),
     * code = clamp(round(w / s) + z, 0, 2^b - 1), levels (code - z) s: the integers -2^(b-1) .. 2^(b-1)-1 times s,
     * zero among them, so the largest positive weight is clipped by half a step. One departure from the reference:
     * a group with no negative weight gets the same s (the reference then takes s = max / (2^b - 1) and clips
     * every weight above about half the max).
     */
    SYM("sym");

    private final String cliName;

    QuantScheme(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    /** Whether the group's scale comes from its largest |w| alone (sym-full, sym), not from its min and max. */
    public boolean scaledByAbsMax() {
        return this != ASYM;
    }

    public static QuantScheme parse(String name) {
        return parse("scheme", name);
    }

    /** Parses a name; the error names {@code field} (a JSON field or a command-line flag) and the supported values. */
    public static QuantScheme parse(String field, String name) {
        return WireNames.parse(field, name, values(), QuantScheme::cliName);
    }
}
