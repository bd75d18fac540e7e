package dev.cherryq.core.format;

/**
 * Bit-exact conversions between f32 and the 16-bit float formats, in Java (bf16 NDArrays abort the JVM in DJL).
 * f16 is IEEE 754 binary16; bf16 is the top half of an f32. Both round to nearest, ties to even.
 */
public final class HalfPrecision {

    private HalfPrecision() {}

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Rounds to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    public static float f16ToFloat(short half) {
        int bits = half & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        if (exponent == 0x1F) { // infinity or NaN
            return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
        }
        if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    /** Rounds to nearest even; overflow goes to infinity, NaN stays NaN. */
    public static short floatToF16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xFF;
        int mantissa = bits & 0x7FFFFF;
        if (exponent == 0xFF) { // infinity or NaN
            return (short) (sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0));
        }
        int halfExponent = exponent - 112;
        if (halfExponent >= 0x1F) { // too large: infinity
            return (short) (sign | 0x7C00);
        }
        if (halfExponent <= 0) { // subnormal or zero in f16
            if (halfExponent < -10) {
                return (short) sign;
            }
            int fullMantissa = mantissa | 0x800000;
            int shift = 14 - halfExponent;
            int halfMantissa = fullMantissa >>> shift;
            int remainder = fullMantissa & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (remainder > halfway || (remainder == halfway && (halfMantissa & 1) == 1)) {
                halfMantissa++;
            }
            return (short) (sign | halfMantissa);
        }
        int halfBits = (halfExponent << 10) | (mantissa >>> 13);
        int remainder = mantissa & 0x1FFF;
        if (remainder > 0x1000 || (remainder == 0x1000 && (halfBits & 1) == 1)) {
            halfBits++; // may carry into the exponent, up to infinity: that is correct rounding
        }
        return (short) (sign | halfBits);
    }

    /** The f32 that a value becomes after a round trip through bf16. */
    public static float roundToBf16(float value) {
        return bf16ToFloat(floatToBf16(value));
    }

    /** The f32 that a value becomes after a round trip through f16. */
    public static float roundToF16(float value) {
        return f16ToFloat(floatToF16(value));
    }
}
