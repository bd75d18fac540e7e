package dev.cherryq.core.gptq;

import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.QuantizedMatrix;

/**
 * The textbook GPTQ / OBQ update (Frantar and Alistarh, 2022, eq. 2-3; Frantar et al., 2023, Sec. 3), written plainly
 * as the independent reference for {@link GptqSolver}: one column at a time, the explicit inverse Hessian of the
 * columns not yet quantized, w_F -= (w_q - quant(w_q)) / [H_F^-1]_qq * (H_F^-1)_{:,q}, then
 * H^-1 -= H^-1_{:,q} H^-1_{q,:} / [H^-1]_qq to remove column q. No Cholesky, no lazy blocks, no permuted copies.
 *
 * <p>The rounding rule is the one GptqSolver documents, restated here: at a group's first column (in sweep order)
 * its statistics are GroupQuantizer's over the group's current weights without cherries; the element of largest
 * |w| (sym-full) or the min and max elements (asym) keep that value and RTN's code of it; other weights take the
 * nearest level whose code RTN can reach inside the group's range; cherries are never rounded.
 */
final class NaiveGptq {

    /** Dequantized weights (cherries at their final values) and codes (-1 at cherries), row-major. */
    record Output(float[] dequantized, int[] codes) {}

    private NaiveGptq() {}

    static Output run(float[] weights, int rows, int columns, double[] hessian, QuantSpec spec, boolean[] cherry,
            double dampening, boolean actOrder, boolean halfPrecisionScales) {
        double[][] w = new double[rows][columns];
        double[][] h = new double[columns][columns];
        for (int i = 0; i < columns; i++) {
            for (int j = 0; j < columns; j++) {
                h[i][j] = hessian[i * columns + j];
            }
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < columns; c++) {
                w[r][c] = weights[r * columns + c];
            }
        }
        // dead inputs: H_ii = 1, weights 0
        for (int c = 0; c < columns; c++) {
            if (h[c][c] == 0) {
                h[c][c] = 1;
                for (int r = 0; r < rows; r++) {
                    w[r][c] = 0;
                }
            }
        }
        // column order: natural, or decreasing diag(H) with ties in column order (insertion sort, stable)
        int[] order = new int[columns];
        for (int c = 0; c < columns; c++) {
            order[c] = c;
        }
        if (actOrder) {
            for (int i = 1; i < columns; i++) {
                int column = order[i];
                int j = i - 1;
                while (j >= 0 && h[order[j]][order[j]] < h[column][column]) {
                    order[j + 1] = order[j];
                    j--;
                }
                order[j + 1] = column;
            }
        }
        double mean = 0;
        for (int c = 0; c < columns; c++) {
            mean += h[c][c] / columns;
        }
        for (int c = 0; c < columns; c++) {
            h[c][c] += dampening * mean;
        }
        double[][] inverse = invert(h);
        int groupLength = spec.groupLength(columns);
        int groups = spec.groupsPerRow(columns);
        float[][] scale = new float[rows][groups];
        float[][] zero = new float[rows][groups];
        int[][] lowCode = new int[rows][groups];
        int[][] highCode = new int[rows][groups];
        boolean[] started = new boolean[groups];
        boolean[][] pinned = new boolean[rows][columns];
        float[][] pinnedValue = new float[rows][columns];
        boolean[] done = new boolean[columns];
        float[] dequantized = new float[rows * columns];
        int[] codes = new int[rows * columns];
        for (int step = 0; step < columns; step++) {
            int q = order[step];
            int g = q / groupLength;
            if (!started[g]) {
                started[g] = true;
                int first = g * groupLength;
                int length = Math.min(groupLength, columns - first);
                for (int r = 0; r < rows; r++) {
                    // group statistics: GroupQuantizer on this row's group as it is now
                    float[] values = new float[length];
                    boolean[] excluded = new boolean[length];
                    int argMin = -1;
                    int argMax = -1;
                    for (int j = 0; j < length; j++) {
                        values[j] = (float) w[r][first + j];
                        excluded[j] = cherry != null && cherry[r * columns + first + j];
                        if (!excluded[j]) {
                            if (argMin < 0 || values[j] < values[argMin]) {
                                argMin = j;
                            }
                            if (argMax < 0 || values[j] > values[argMax]) {
                                argMax = j;
                            }
                        }
                    }
                    QuantizedMatrix stats = GroupQuantizer.quantize(values, 1, length,
                            new QuantSpec(spec.bits(), QuantSpec.WHOLE_ROW, spec.scheme()), excluded, halfPrecisionScales);
                    scale[r][g] = stats.scales()[0];
                    zero[r][g] = stats.zeroPoints() == null ? 0 : stats.zeroPoints()[0];
                    float low;
                    float high;
                    if (argMin < 0) {
                        low = 0;
                        high = 0;
                    } else if (spec.scheme() != QuantScheme.ASYM) { // sym-full and sym: the absmax element
                        int pin = Math.abs(values[argMax]) >= Math.abs(values[argMin]) ? argMax : argMin;
                        pinned[r][first + pin] = true;
                        pinnedValue[r][first + pin] = values[pin];
                        high = Math.abs(values[pin]);
                        low = -high;
                    } else {
                        pinned[r][first + argMin] = true;
                        pinnedValue[r][first + argMin] = values[argMin];
                        pinned[r][first + argMax] = true;
                        pinnedValue[r][first + argMax] = values[argMax];
                        low = values[argMin];
                        high = values[argMax];
                    }
                    lowCode[r][g] = code(low, scale[r][g], zero[r][g], spec);
                    highCode[r][g] = code(high, scale[r][g], zero[r][g], spec);
                }
            }
            double pivot = inverse[q][q];
            for (int r = 0; r < rows; r++) {
                double quantized;
                if (cherry != null && cherry[r * columns + q]) {
                    quantized = w[r][q];
                    codes[r * columns + q] = -1;
                    dequantized[r * columns + q] = (float) w[r][q];
                } else {
                    int code = pinned[r][q] ? code(pinnedValue[r][q], scale[r][g], zero[r][g], spec)
                            : Math.max(lowCode[r][g], Math.min(highCode[r][g],
                                    code((float) w[r][q], scale[r][g], zero[r][g], spec)));
                    float level = switch (spec.scheme()) {
                        case SYM_FULL -> (code - spec.levels() / 2 + 0.5f) * scale[r][g];
                        case SYM -> (code - spec.levels() / 2) * scale[r][g];
                        case ASYM -> (code - zero[r][g]) * scale[r][g];
                    };
                    codes[r * columns + q] = code;
                    dequantized[r * columns + q] = level;
                    quantized = level;
                }
                // compensate the columns not yet quantized
                double error = (w[r][q] - quantized) / pivot;
                for (int k = 0; k < columns; k++) {
                    if (!done[k] && k != q) {
                        w[r][k] -= error * inverse[q][k];
                    }
                }
            }
            // remove column q from the inverse Hessian
            done[q] = true;
            double[] columnQ = new double[columns];
            double[] rowQ = inverse[q].clone();
            for (int a = 0; a < columns; a++) {
                columnQ[a] = inverse[a][q];
            }
            for (int a = 0; a < columns; a++) {
                for (int b = 0; b < columns; b++) {
                    inverse[a][b] -= columnQ[a] * rowQ[b] / pivot;
                }
            }
        }
        return new Output(dequantized, codes);
    }

    /** GroupQuantizer's code of one value under fixed group statistics (f32 arithmetic). */
    static int code(float value, float scale, float zero, QuantSpec spec) {
        if (spec.scheme() == QuantScheme.SYM_FULL) {
            int half = spec.levels() / 2;
            int k = (int) Math.floor(value / scale);
            return Math.max(-half, Math.min(half - 1, k)) + half;
        }
        if (spec.scheme() == QuantScheme.SYM) {
            int half = spec.levels() / 2;
            float k = (float) Math.rint(value / scale);
            return (int) Math.max(-half, Math.min(half - 1, k)) + half;
        }
        float q = (float) Math.rint(value / scale + zero);
        return (int) Math.max(0, Math.min(spec.levels() - 1, q));
    }

    /** Gauss-Jordan inversion with partial pivoting. */
    static double[][] invert(double[][] matrix) {
        int n = matrix.length;
        double[][] a = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(matrix[i], 0, a[i], 0, n);
            a[i][n + i] = 1;
        }
        for (int column = 0; column < n; column++) {
            int best = column;
            for (int row = column + 1; row < n; row++) {
                if (Math.abs(a[row][column]) > Math.abs(a[best][column])) {
                    best = row;
                }
            }
            double[] swap = a[column];
            a[column] = a[best];
            a[best] = swap;
            double pivot = a[column][column];
            for (int j = 0; j < 2 * n; j++) {
                a[column][j] /= pivot;
            }
            for (int row = 0; row < n; row++) {
                if (row != column && a[row][column] != 0) {
                    double factor = a[row][column];
                    for (int j = 0; j < 2 * n; j++) {
                        a[row][j] -= factor * a[column][j];
                    }
                }
            }
        }
        double[][] inverse = new double[n][n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], n, inverse[i], 0, n);
        }
        return inverse;
    }
}
