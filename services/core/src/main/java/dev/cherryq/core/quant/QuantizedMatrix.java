package dev.cherryq.core.quant;

/**
 * A quantized [rows, columns] matrix: one code per weight in [0, 2^bits), and per group (row-major, groupsPerRow
 * per row) a scale and, for {@link QuantScheme#ASYM}, an integer zero point.
 */
public record QuantizedMatrix(QuantSpec spec, int rows, int columns, int[] codes, float[] scales, float[] zeroPoints) {

    /** The value a code stands for in the given group. */
    public float level(int code, int group) {
        float scale = scales[group];
        return switch (spec.scheme()) {
            case SYM_FULL -> (code - spec.levels() / 2 + 0.5f) * scale;
            case ASYM -> (code - zeroPoints[group]) * scale;
            case SYM -> (code - spec.levels() / 2) * scale;
        };
    }

    /** Row-major dequantized weights. */
    public float[] dequantize() {
        int groupLength = spec.groupLength(columns);
        int groupsPerRow = spec.groupsPerRow(columns);
        float[] out = new float[rows * columns];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                int index = row * columns + column;
                out[index] = level(codes[index], row * groupsPerRow + column / groupLength);
            }
        }
        return out;
    }
}
