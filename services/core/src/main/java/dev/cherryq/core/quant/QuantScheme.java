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
    ASYM("asym");

    private final String cliName;

    QuantScheme(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    public static QuantScheme parse(String name) {
        return parse("scheme", name);
    }

    /** Parses a name; the error names {@code field} (a JSON field or a command-line flag) and the supported values. */
    public static QuantScheme parse(String field, String name) {
        return WireNames.parse(field, name, values(), QuantScheme::cliName);
    }
}
