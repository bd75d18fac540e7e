package dev.cherryq.core.quant;

/**
 * Round-to-nearest group quantization of a row-major [rows, columns] matrix under a {@link QuantSpec}.
 * Group statistics (absmax, or min and max) can skip masked positions, so that CherryQ's high-precision
 * cherries never influence the scales of the normal weights around them.
 */
public final class GroupQuantizer {

    private GroupQuantizer() {}

    public static QuantizedMatrix quantize(float[] weights, int rows, int columns, QuantSpec spec) {
        return quantize(weights, rows, columns, spec, null);
    }

    /**
     * @param excluded optional row-major mask; true positions are left out of the group statistics (their codes are
     *     still computed, clamped into range, but callers keep those weights in full precision)
     */
    public static QuantizedMatrix quantize(float[] weights, int rows, int columns, QuantSpec spec, boolean[] excluded) {
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
                    float scale = absMax > 0 ? absMax / (spec.levels() / 2) : Float.MIN_NORMAL;
                    scales[groupIndex] = scale;
                    int half = spec.levels() / 2;
                    for (int i = start; i < end; i++) {
                        int k = (int) Math.floor(weights[i] / scale);
                        codes[i] = Math.max(-half, Math.min(half - 1, k)) + half;
                    }
                } else {
                    // s = (max - min) / (2^b - 1); z = round(-min / s); code = clamp(round(w / s) + z, 0, 2^b - 1)
                    float range = max - min;
                    float scale = range > 0 ? range / maxCode : Float.MIN_NORMAL;
                    float zero = Math.round(-min / scale);
                    scales[groupIndex] = scale;
                    zeroPoints[groupIndex] = zero;
                    for (int i = start; i < end; i++) {
                        int q = Math.round(weights[i] / scale + zero);
                        codes[i] = Math.max(0, Math.min(maxCode, q));
                    }
                }
            }
        }
        return new QuantizedMatrix(spec, rows, columns, codes, scales, zeroPoints);
    }
}
