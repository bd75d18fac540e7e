package dev.cherryq.core.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** f16/bf16 conversions against their definitions: exact decode, and round-to-nearest-even checked by brute force. */
class HalfPrecisionTest {

    @Test
    void shouldRoundTripEveryF16BitPattern() {
        for (int bits = 0; bits < 1 << 16; bits++) {
            float value = HalfPrecision.f16ToFloat((short) bits);
            if (Float.isNaN(value)) {
                assertTrue(Float.isNaN(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(value))));
                continue;
            }
            assertEquals(bits, HalfPrecision.floatToF16(value) & 0xFFFF, "f16 pattern " + Integer.toHexString(bits));
        }
    }

    @Test
    void shouldDecodeKnownF16AndBf16Values() {
        assertEquals(1.0f, HalfPrecision.f16ToFloat((short) 0x3C00));
        assertEquals(65504f, HalfPrecision.f16ToFloat((short) 0x7BFF));
        assertEquals(0x1p-24f, HalfPrecision.f16ToFloat((short) 0x0001));
        assertEquals(-2.0f, HalfPrecision.f16ToFloat((short) 0xC000));
        assertEquals(1.0f, HalfPrecision.bf16ToFloat((short) 0x3F80));
        assertEquals((short) 0x3F80, HalfPrecision.floatToBf16(1.0f));
        assertEquals(Float.POSITIVE_INFINITY, HalfPrecision.roundToF16(70000f));
    }

    @Test
    void shouldRoundToNearestEvenForRandomFloats() {
        Random random = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            float value = Float.intBitsToFloat(random.nextInt());
            if (Float.isNaN(value) || Float.isInfinite(value)) {
                continue;
            }
            checkNearestEven(value, HalfPrecision.roundToBf16(value), bf16Neighbours(value), true);
            if (Math.abs(value) < 65504f) {
                checkNearestEven(value, HalfPrecision.roundToF16(value), f16Neighbours(value), false);
            }
        }
    }

    /** The two representable values around x: (below-or-equal, above-or-equal), and which one is "even". */
    private static float[] bf16Neighbours(float x) {
        int bits = Float.floatToRawIntBits(x);
        float truncated = Float.intBitsToFloat(bits & 0xFFFF0000);
        float next = Float.intBitsToFloat((bits & 0xFFFF0000) + 0x10000);
        boolean truncatedEven = ((bits >>> 16) & 1) == 0;
        return new float[] {truncated, next, truncatedEven ? 0 : 1};
    }

    private static float[] f16Neighbours(float x) {
        // search the f16 grid directly: exhaustive over patterns with the same sign
        int sign = x < 0 || (x == 0 && 1 / x < 0) ? 0x8000 : 0;
        float best = Float.NaN;
        float second = Float.NaN;
        int bestBits = -1;
        int secondBits = -1;
        double bestDistance = Double.MAX_VALUE;
        double secondDistance = Double.MAX_VALUE;
        for (int magnitude = 0; magnitude < 0x7C00; magnitude++) {
            float candidate = HalfPrecision.f16ToFloat((short) (sign | magnitude));
            double distance = Math.abs((double) candidate - x);
            if (distance < bestDistance) {
                second = best;
                secondBits = bestBits;
                secondDistance = bestDistance;
                best = candidate;
                bestBits = magnitude;
                bestDistance = distance;
            } else if (distance < secondDistance) {
                second = candidate;
                secondBits = magnitude;
                secondDistance = distance;
            }
        }
        return new float[] {best, second, (bestBits & 1) == 0 ? 0 : 1, secondBits};
    }

    private static void checkNearestEven(float x, float rounded, float[] neighbours, boolean bf16) {
        // past the largest finite value, the next grid point is 2^128 (bf16) and rounding to it means infinity
        double above = Float.isInfinite(neighbours[1]) ? Math.copySign(Math.scalb(1.0, 128), x) : neighbours[1];
        double a = Math.abs((double) neighbours[0] - x);
        double b = Math.abs(above - x);
        float expected;
        if (a < b) {
            expected = neighbours[0];
        } else if (b < a) {
            expected = neighbours[1];
        } else {
            expected = neighbours[2] == 0 ? neighbours[0] : neighbours[1]; // tie: the even one
        }
        assertEquals(expected, rounded, 0f, (bf16 ? "bf16" : "f16") + " rounding of " + x);
    }
}
