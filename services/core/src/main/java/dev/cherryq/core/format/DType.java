package dev.cherryq.core.format;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The safetensors dtypes this project reads and writes. Names are those of the safetensors format spec
 * (huggingface/safetensors, "format" section). Floating types convert to f32 in Java: DJL never sees bf16.
 */
public enum DType {
    F32("F32", 4, true),
    F16("F16", 2, true),
    BF16("BF16", 2, true),
    F64("F64", 8, true),
    I64("I64", 8, false),
    I32("I32", 4, false),
    I16("I16", 2, false),
    I8("I8", 1, false),
    U8("U8", 1, false),
    BOOL("BOOL", 1, false);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floating;

    DType(String safetensorsName, int byteSize, boolean floating) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floating = floating;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloating() {
        return floating;
    }

    /** Parses a safetensors dtype name, or returns null when it is not one this project knows. */
    public static DType fromSafetensorsName(String name) {
        for (DType type : values()) {
            if (type.safetensorsName.equals(name)) {
                return type;
            }
        }
        return null;
    }

    public static String supportedNames() {
        return Arrays.stream(values()).map(DType::safetensorsName).collect(Collectors.joining(", "));
    }
}
