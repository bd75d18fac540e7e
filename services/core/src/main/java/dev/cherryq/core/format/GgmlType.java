package dev.cherryq.core.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The ggml tensor types the GGUF export writes (ggml's {@code enum ggml_type}, ids as in the GGUF spec,
 * ggml-org/ggml docs/gguf.md), with their encoding from f32 and decoding back, in Java (never through DJL):
 * <ul>
 *   <li>{@code F32}, {@code F16} (IEEE binary16, round to nearest even, {@link HalfPrecision});</li>
 *   <li>{@code Q8_0}: blocks of 32 values; per block an f16 scale {@code d = max|x| / 127} and 32 int8
 *       {@code q = round(x / d)} (half away from zero); value = {@code q * d}. 34 bytes per block, 8.5 bits a weight;</li>
 *   <li>{@code Q4_0}: blocks of 32 values; per block an f16 scale {@code d} and 16 bytes of 4-bit codes; value =
 *       {@code (q - 8) * d}. Byte {@code j} holds element {@code j} in its low nibble and element {@code j + 16} in
 *       its high nibble. {@code d = m / -8} where {@code m} is the block's element of largest magnitude, so that
 *       {@code m} lands exactly on level -8 (the choice of ggml's reference quantizer); {@code q = clamp(floor(x / d
 *       + 8.5), 0, 15)}. 18 bytes per block, 4.5 bits a weight.</li>
 * </ul>
 * The codes of both block types are computed with the f32 scale; the f16-rounded scale is what is stored, and what
 * decoding (here and in llama.cpp) multiplies by.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q8_0(8, 32, 34);

    private final int id;
    private final int blockSize;
    private final int bytesPerBlock;

    GgmlType(int id, int blockSize, int bytesPerBlock) {
        this.id = id;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** The {@code ggml_type} value written in a GGUF tensor info. */
    public int id() {
        return id;
    }

    /** Values per block (1 for the float types); a row's length must be a multiple of it. */
    public int blockSize() {
        return blockSize;
    }

    public int bytesPerBlock() {
        return bytesPerBlock;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** The lower-case name used on the command line (f32, f16, q8_0, q4_0). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static GgmlType parse(String name) {
        for (GgmlType type : values()) {
            if (type.cliName().equalsIgnoreCase(name)) {
                return type;
            }
        }
        return null;
    }

    public static String supportedNames() {
        return Arrays.stream(values()).map(GgmlType::cliName).collect(Collectors.joining(", "));
    }

    /** Whether rows of this length can be stored in this type (a whole number of blocks). */
    public boolean fitsRowLength(long rowLength) {
        return rowLength % blockSize == 0;
    }

    /** Bytes taken by {@code elements} values; {@code elements} must be a whole number of blocks. */
    public long byteLength(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " values are not a whole number of " + this + " blocks of "
                    + blockSize);
        }
        return elements / blockSize * bytesPerBlock;
    }

    /** The values encoded in this type, little-endian, ready to write. */
    public ByteBuffer encode(float[] values) {
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(byteLength(values.length))).order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> {
                for (float value : values) {
                    out.putFloat(value);
                }
            }
            case F16 -> {
                for (float value : values) {
                    out.putShort(HalfPrecision.floatToF16(value));
                }
            }
            case Q8_0 -> {
                for (int start = 0; start < values.length; start += blockSize) {
                    encodeQ80Block(values, start, out);
                }
            }
            case Q4_0 -> {
                for (int start = 0; start < values.length; start += blockSize) {
                    encodeQ40Block(values, start, out);
                }
            }
        }
        return out.flip();
    }

    /**
     * Values that lie on a grid of given per-block scales, stored exactly: each block takes its scale as {@code d}
     * (it must be an f16 value) and each value its integer level: {@code q = value / d} for Q8_0 (-128..127), and
     * {@code q - 8 = value / d} for Q4_0 (-8..7). This is how a model quantized on GPTQ's symmetric grid in groups of
     * 32 (4 or 8 bits) is written without a second rounding. Refuses a value that is not exactly a level, or a scale
     * that is not an f16 value, naming the block.
     */
    public ByteBuffer encodeOnScales(float[] values, float[] blockScales) {
        if (this != Q8_0 && this != Q4_0) {
            throw new IllegalArgumentException(this + " has no block scale");
        }
        if ((long) blockScales.length * blockSize != values.length) {
            throw new IllegalArgumentException(values.length + " values need " + values.length / blockSize
                    + " block scales, got " + blockScales.length);
        }
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(byteLength(values.length))).order(ByteOrder.LITTLE_ENDIAN);
        int lowest = this == Q8_0 ? -128 : -8;
        int highest = this == Q8_0 ? 127 : 7;
        int[] levels = new int[blockSize];
        for (int block = 0; block < blockScales.length; block++) {
            float scale = blockScales[block];
            if (!(scale > 0) || HalfPrecision.roundToF16(scale) != scale) {
                throw new IllegalArgumentException("block " + block + ": scale " + scale + " is not a positive f16 value");
            }
            for (int j = 0; j < blockSize; j++) {
                float value = values[block * blockSize + j];
                float level = (float) Math.rint(value / scale);
                if (level < lowest || level > highest || level * scale != value) {
                    throw new IllegalArgumentException("block " + block + ", value " + j + ": " + value
                            + " is not a level k * " + scale + " with k in " + lowest + ".." + highest);
                }
                levels[j] = (int) level;
            }
            out.putShort(HalfPrecision.floatToF16(scale));
            if (this == Q8_0) {
                for (int level : levels) {
                    out.put((byte) level);
                }
            } else {
                for (int j = 0; j < blockSize / 2; j++) {
                    out.put((byte) ((levels[j] + 8) | ((levels[j + blockSize / 2] + 8) << 4)));
                }
            }
        }
        return out.flip();
    }

    /** {@code count} values decoded from {@code bytes} (read from its position, little-endian). */
    public float[] decode(ByteBuffer bytes, int count) {
        ByteBuffer in = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byteLength(count); // checks whole blocks
        float[] out = new float[count];
        switch (this) {
            case F32 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = in.getFloat();
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = HalfPrecision.f16ToFloat(in.getShort());
                }
            }
            case Q8_0 -> {
                for (int start = 0; start < count; start += blockSize) {
                    float scale = HalfPrecision.f16ToFloat(in.getShort());
                    for (int j = 0; j < blockSize; j++) {
                        out[start + j] = in.get() * scale;
                    }
                }
            }
            case Q4_0 -> {
                for (int start = 0; start < count; start += blockSize) {
                    float scale = HalfPrecision.f16ToFloat(in.getShort());
                    for (int j = 0; j < blockSize / 2; j++) {
                        int packed = in.get() & 0xFF;
                        out[start + j] = ((packed & 0x0F) - 8) * scale;
                        out[start + j + blockSize / 2] = ((packed >>> 4) - 8) * scale;
                    }
                }
            }
        }
        return out;
    }

    /** The values as a reader of this type sees them: encoded, then decoded (the weights llama.cpp computes with). */
    public float[] roundTrip(float[] values) {
        return decode(encode(values), values.length);
    }

    private static void encodeQ80Block(float[] values, int start, ByteBuffer out) {
        // scale: the block's largest magnitude maps to 127
        float maxMagnitude = 0;
        for (int j = 0; j < 32; j++) {
            maxMagnitude = Math.max(maxMagnitude, Math.abs(values[start + j]));
        }
        float scale = maxMagnitude / 127f;
        float inverse = scale != 0 ? 1f / scale : 0f;
        out.putShort(HalfPrecision.floatToF16(scale));
        // codes: round half away from zero, as C's roundf
        for (int j = 0; j < 32; j++) {
            float scaled = values[start + j] * inverse;
            int code = (int) Math.signum(scaled) * (int) Math.floor(Math.abs(scaled) + 0.5f);
            out.put((byte) Math.max(-127, Math.min(127, code)));
        }
    }

    private static void encodeQ40Block(float[] values, int start, ByteBuffer out) {
        // scale: the element of largest magnitude, with its sign, maps to level -8
        float extreme = 0;
        for (int j = 0; j < 32; j++) {
            if (Math.abs(values[start + j]) > Math.abs(extreme)) {
                extreme = values[start + j];
            }
        }
        float scale = extreme / -8f;
        float inverse = scale != 0 ? 1f / scale : 0f;
        out.putShort(HalfPrecision.floatToF16(scale));
        // codes: level + 8 in 0..15; byte j = element j (low nibble) | element j+16 (high nibble)
        for (int j = 0; j < 16; j++) {
            int low = nibble(values[start + j] * inverse);
            int high = nibble(values[start + j + 16] * inverse);
            out.put((byte) (low | (high << 4)));
        }
    }

    private static int nibble(float scaled) {
        return Math.max(0, Math.min(15, (int) Math.floor(scaled + 8.5f)));
    }
}
