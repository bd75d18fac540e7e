package dev.cherryq.core.quant;

import dev.cherryq.core.format.HalfPrecision;

/**
 * Round-to-nearest group quantization of a row-major [rows, columns] matrix under a {@link QuantSpec}.
 * Group statistics (absmax, or min and max) can skip masked positions, so that CherryQ's high-precision
 * cherries never influence the scales of the normal weights around them. Arithmetic is f32 and rounding is
 * half-to-even, exactly as the DJL fake-quantizer used in training computes it.
 */
public final class GroupQuantizer {

    private GroupQuantizer() {}

    public static QuantizedMatrix quantize(float[] weights, int rows, int columns, QuantSpec spec) {
        return quantize(weights, rows, columns, spec, null, false);
    }

    public static QuantizedMatrix quantize(float[] weights, int rows, int columns, QuantSpec spec, boolean[] excluded) {
        return quantize(weights, rows, columns, spec, excluded, false);
    }

    /**
     * @param excluded optional row-major mask; true positions are left out of the group statistics (their codes are
     *     still computed, clamped into range, but callers keep those weights in full precision)
     * @param halfPrecisionScales round each scale to f16 before computing codes, as the packed format stores it
     */
    public static QuantizedMatrix quantize(float[] weights, int rows, int columns, QuantSpec spec, boolean[] excluded,
            boolean halfPrecisionScales) {
        if (weights.length != (long) rows * columns) {
            throw new IllegalArgumentException(weights.length + " weights for a " + rows + "x" + columns + " matrix");
        }
        int groupLength = spec.groupLength(columns);
        int groupsPerRow = spec.groupsPerRow(columns);
        int[] codes = new int[weights.length];
        float[] scales = new float[rows * groupsPerRow];
        float[] zeroPoints = spec.scheme() == QuantScheme.ASYM ? new float[rows * groupsPerRow] : null;
        int maxCode = spec.levels() - 1;
        for (int row = 0; row < rows; row++) {
            for (int group = 0; group < groupsPerRow; group++) {
                int start = row * columns + group * groupLength;
                int end = Math.min(start + groupLength, row * columns + columns);
                int groupIndex = row * groupsPerRow + group;
                // group statistics over the positions that are not excluded
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                for (int i = start; i < end; i++) {
                    if (excluded == null || !excluded[i]) {
                        min = Math.min(min, weights[i]);
                        max = Math.max(max, weights[i]);
                    }
                }
                if (min > max) { // every position excluded
                    min = 0;
                    max = 0;
                }
                if (spec.scheme() == QuantScheme.SYM_FULL) {
                    // s = absmax / 2^(b-1); code = clamp(floor(w / s), -2^(b-1), 2^(b-1)-1) + 2^(b-1)
                    float absMax = Math.max(Math.abs(min), Math.abs(max));
                    float scale = storedScale(absMax / (spec.levels() / 2), halfPrecisionScales);
                    scales[groupIndex] = scale;
                    int half = spec.levels() / 2;
                    for (int i = start; i < end; i++) {
                        int k = (int) Math.floor(weights[i] / scale);
                        codes[i] = Math.max(-half, Math.min(half - 1, k)) + half;
                    }
                } else if (spec.scheme() == QuantScheme.SYM) {
                    // s = 2 absmax / (2^b - 1); code = clamp(round(w / s), -2^(b-1), 2^(b-1)-1) + 2^(b-1)
                    float absMax = Math.max(Math.abs(min), Math.abs(max));
                    float scale = storedScale(2 * absMax / maxCode, halfPrecisionScales);
                    scales[groupIndex] = scale;
                    int half = spec.levels() / 2;
                    for (int i = start; i < end; i++) {
                        float k = (float) Math.rint(weights[i] / scale);
                        codes[i] = (int) Math.max(-half, Math.min(half - 1, k)) + half;
                    }
                } else {
                    // s = (max - min) / (2^b - 1); z = round(-min / s); code = clamp(round(w / s) + z, 0, 2^b - 1)
                    float range = max - min;
                    float scale = storedScale(range / maxCode, halfPrecisionScales);
                    float zero = (float) Math.rint(-min / scale);
                    scales[groupIndex] = scale;
                    zeroPoints[groupIndex] = zero;
                    for (int i = start; i < end; i++) {
                        float q = (float) Math.rint(weights[i] / scale + zero);
                        codes[i] = (int) Math.max(0, Math.min(maxCode, q));
                    }
                }
            }
        }
        return new QuantizedMatrix(spec, rows, columns, codes, scales, zeroPoints);
    }

    /** A zero range gets the smallest positive scale (its weights are all equal); optionally rounded to f16. */
    static float storedScale(float scale, boolean halfPrecision) {
        float positive = Math.max(scale, MIN_SCALE);
        return halfPrecision ? Math.max(HalfPrecision.roundToF16(positive), MIN_F16_SCALE) : positive;
    }

    /** Smallest scale used in f32; shared with the DJL fake-quantizer. */
    public static final float MIN_SCALE = 1e-10f;
    /** Smallest positive f16 (a subnormal), so a stored scale never rounds to zero. */
    private static final float MIN_F16_SCALE = 0x1p-24f;
}
