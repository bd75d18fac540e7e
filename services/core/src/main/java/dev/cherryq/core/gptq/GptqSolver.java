package dev.cherryq.core.gptq;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.HalfPrecision;
import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.QuantizedMatrix;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * GPTQ on one row-major [rows, columns] weight matrix given its input Hessian H (Frantar et al., 2023, Algorithm 1,
 * and the reference gptq.py fasterquant): columns are rounded one at a time, and each column's error, scaled by the
 * Cholesky factor of H^-1, is subtracted from the columns not yet rounded; updates inside a block of columns are
 * applied at once, the rest after the block ("lazy batch" updates). Linear algebra is plain Java in double.
 *
 * <p>Rounding is defined so that the result survives the project's round-to-nearest ({@link GroupQuantizer}): when
 * the sweep first reaches a group, the group's statistics are computed from its current (error-updated) weights
 * without cherries, exactly as GroupQuantizer computes them, and the elements that define them are <em>pinned</em>:
 * their latent weight keeps that value and their code is whatever RTN gives it (sym-full: the element of largest
 * |w| gets the extreme code of its sign; asym: the min and max elements get the codes of min and max, normally 0 and
 * 2^b - 1). Every other weight gets GPTQ's nearest code within the codes RTN can reach inside the group's range, and
 * its latent weight is that code's level clamped into the range, which RTN maps back to the same code. The error
 * GPTQ propagates is the one of the code actually chosen. The latent weights are checked against GroupQuantizer
 * before they are returned.
 *
 * <p>Cherries (mask true) stay in full precision: they are left out of the group statistics, are never rounded
 * (zero error, so they push nothing onto later columns), but as free parameters they do absorb the compensation
 * of the columns rounded before them, as any full-precision weight in GPTQ does.
 *
 * <p>Act-order sweeps the columns by decreasing diag(H); groups stay the contiguous groups of the original columns
 * (the format has no g_idx), and a group's statistics are taken when the sweep reaches its first column.
 */
public final class GptqSolver {

    private GptqSolver() {}

    /**
     * @param latent (rows, columns) weights to store: RTN of them under the same spec and cherry mask gives GPTQ's
     *     codes; cherries hold their full-precision (compensated) values
     * @param dequantized (rows, columns) what GPTQ's codes stand for, with cherries at their latent values
     * @param quantized GroupQuantizer's RTN of {@code latent} (f16 scales when the settings say so): the codes,
     *     scales and zero points
     * @param pinnedPositions weights pinned because they define their group's statistics
     * @param deadColumns inputs that were always zero (diag H = 0): set to zero, as in the reference
     * @param rtnError tr((W - Q) H (W - Q)^T) of plain RTN of the input weights (cherries kept), H undamped
     * @param gptqError the same for GPTQ's dequantized weights
     */
    public record Solution(float[] latent, float[] dequantized, QuantizedMatrix quantized, int pinnedPositions,
            int deadColumns, double rtnError, double gptqError) {}

    /**
     * @param weights (rows, columns) row-major f32
     * @param hessian (columns, columns) row-major, symmetric positive semi-definite: 2/n sum x x^T
     * @param cherryMask optional (rows, columns) row-major, true at weights kept in full precision
     */
    public static Solution quantize(float[] weights, int rows, int columns, double[] hessian, QuantSpec spec,
            boolean[] cherryMask, GptqSettings settings) {
        if (weights.length != (long) rows * columns) {
            throw new IllegalArgumentException(weights.length + " weights for a " + rows + "x" + columns + " matrix");
        }
        if (hessian.length != (long) columns * columns) {
            throw new IllegalArgumentException("Hessian of " + hessian.length + " entries for " + columns + " columns");
        }
        if (cherryMask != null && cherryMask.length != weights.length) {
            throw new IllegalArgumentException("cherry mask of " + cherryMask.length + " for " + weights.length + " weights");
        }
        // dead inputs (H_ii = 0, the input is always zero): H_ii = 1 and the weights set to zero, as the reference does
        double[] diagonal = new double[columns];
        boolean[] dead = new boolean[columns];
        int deadColumns = 0;
        for (int c = 0; c < columns; c++) {
            diagonal[c] = hessian[c * columns + c];
            if (diagonal[c] == 0) {
                dead[c] = true;
                diagonal[c] = 1;
                deadColumns++;
            }
        }
        // sweep order: position -> original column (act-order: decreasing diag(H), ties in column order)
        int[] order = IntStream.range(0, columns).boxed()
                .sorted(settings.actOrder() ? Comparator.comparingDouble((Integer c) -> -diagonal[c]) : Comparator.naturalOrder())
                .mapToInt(Integer::intValue).toArray();
        int[] positionOf = new int[columns];
        for (int p = 0; p < columns; p++) {
            positionOf[order[p]] = p;
        }
        // working weights in sweep order: (rows, columns) in double
        double[] work = new double[weights.length];
        for (int r = 0; r < rows; r++) {
            for (int p = 0; p < columns; p++) {
                work[r * columns + p] = dead[order[p]] ? 0 : weights[r * columns + order[p]];
            }
        }
        // dampening: damp = dampening * mean(diag H), dead diagonals counted as 1
        double damp = settings.dampening() * Arrays.stream(diagonal).sum() / columns;
        // U = upper Cholesky factor of (H + damp I)^-1 in sweep order (Sec. 4, "Cholesky reformulation")
        double[] upper = inverseCholeskyUpper(hessian, order, dead, damp, settings.dampening());
        Sweep sweep = new Sweep(rows, columns, spec, cherryMask, order, positionOf, work, upper, settings.blockSize(),
                settings.halfPrecisionScales());
        sweep.run();
        // check the fixed point: RTN of the latent weights must give GPTQ's codes and levels
        QuantizedMatrix quantized = GroupQuantizer.quantize(sweep.latent, rows, columns, spec, cherryMask,
                settings.halfPrecisionScales());
        float[] restored = quantized.dequantize();
        for (int i = 0; i < weights.length; i++) {
            boolean cherry = cherryMask != null && cherryMask[i];
            if (!cherry && (quantized.codes()[i] != sweep.codes[i] || restored[i] != sweep.dequantized[i])) {
                throw new IllegalStateException("GPTQ latent weight at row " + i / columns + ", column " + i % columns
                        + " rounds to code " + quantized.codes()[i] + " (" + restored[i] + "), not GPTQ's "
                        + sweep.codes[i] + " (" + sweep.dequantized[i] + ")");
            }
        }
        // Hessian-weighted errors against the input weights, for RTN and for GPTQ
        float[] rtn = GroupQuantizer.quantize(weights, rows, columns, spec, cherryMask, settings.halfPrecisionScales())
                .dequantize();
        if (cherryMask != null) {
            for (int i = 0; i < rtn.length; i++) {
                if (cherryMask[i]) {
                    rtn[i] = weights[i];
                }
            }
        }
        double rtnError = weightedError(weights, rtn, rows, columns, hessian);
        // GPTQ's error without another (rows x columns^2) pass: E = W - Q = delta U with delta the scaled errors, and
        // U H' U^T = I for the dampened H', so tr(E H' E^T) = sum delta^2; H' - H is damp on the diagonal, plus 1 on
        // dead diagonals (whose weights GPTQ zeroed, so E is taken against the zeroed weights there)
        double dampedTerms = 0;
        for (int i = 0; i < weights.length; i++) {
            int column = i % columns;
            double error = (dead[column] ? 0 : (double) weights[i]) - sweep.dequantized[i];
            dampedTerms += error * error * (dead[column] ? damp + 1 : damp);
        }
        double gptqError = Math.max(0, sweep.squaredScaledErrors - dampedTerms);
        return new Solution(sweep.latent, sweep.dequantized, quantized, sweep.pinnedPositions, deadColumns, rtnError,
                gptqError);
    }

    /** tr((W - Q) H (W - Q)^T) = sum over rows of e^T H e with e = w - q, using the symmetry of H. */
    public static double weightedError(float[] weights, float[] quantized, int rows, int columns, double[] hessian) {
        double total = 0;
        double[] error = new double[columns];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < columns; c++) {
                error[c] = (double) weights[r * columns + c] - quantized[r * columns + c];
            }
            for (int i = 0; i < columns; i++) {
                if (error[i] == 0) {
                    continue;
                }
                int row = i * columns;
                double offDiagonal = 0;
                for (int j = i + 1; j < columns; j++) {
                    offDiagonal += hessian[row + j] * error[j];
                }
                total += error[i] * (hessian[row + i] * error[i] + 2 * offDiagonal);
            }
        }
        return total;
    }

    /**
     * The upper factor U of (H + damp I)^-1 = U^T U, with H permuted into sweep order and dead diagonals set to 1, as
     * the reference computes chol(cholesky_inverse(chol(H)), upper). In place in one (n, n) array: Cholesky L of H
     * (lower), M = L^-1 (lower), H^-1 = M^T M (upper), then U (upper).
     */
    static double[] inverseCholeskyUpper(double[] hessian, int[] order, boolean[] dead, double damp, double dampening) {
        int n = order.length;
        double[] a = new double[n * n];
        for (int p = 0; p < n; p++) {
            int row = order[p] * n;
            for (int q = 0; q < n; q++) {
                a[p * n + q] = hessian[row + order[q]];
            }
            // dead inputs get 1, then every diagonal the dampening
            a[p * n + p] = (dead[order[p]] ? 1 : a[p * n + p]) + damp;
        }
        // Cholesky H = L L^T, L in the lower triangle
        for (int j = 0; j < n; j++) {
            int rowJ = j * n;
            double pivot = a[rowJ + j];
            for (int k = 0; k < j; k++) {
                pivot -= a[rowJ + k] * a[rowJ + k];
            }
            if (!(pivot > 0)) {
                throw notPositiveDefinite(j, dampening);
            }
            double ljj = Math.sqrt(pivot);
            a[rowJ + j] = ljj;
            for (int i = j + 1; i < n; i++) {
                int rowI = i * n;
                double sum = a[rowI + j];
                for (int k = 0; k < j; k++) {
                    sum -= a[rowI + k] * a[rowJ + k];
                }
                a[rowI + j] = sum / ljj;
            }
        }
        // M = L^-1 row by row: M[i] = (e_i - sum_{k<i} L[i][k] M[k]) / L[i][i]
        double[] buffer = new double[n];
        for (int i = 0; i < n; i++) {
            int rowI = i * n;
            Arrays.fill(buffer, 0, i, 0);
            for (int k = 0; k < i; k++) {
                double lik = a[rowI + k];
                if (lik != 0) {
                    int rowK = k * n;
                    for (int j = 0; j <= k; j++) {
                        buffer[j] += lik * a[rowK + j];
                    }
                }
            }
            double inverse = 1 / a[rowI + i];
            for (int j = 0; j < i; j++) {
                a[rowI + j] = -buffer[j] * inverse;
            }
            a[rowI + i] = inverse;
        }
        // H^-1 = M^T M = sum over rows k of M[k]^T M[k], accumulated into the upper triangle
        for (int i = 0; i < n; i++) {
            Arrays.fill(a, i * n + i + 1, i * n + n, 0);
        }
        for (int k = 0; k < n; k++) {
            int rowK = k * n;
            System.arraycopy(a, rowK, buffer, 0, k + 1);
            a[rowK + k] = 0; // the diagonal entry now accumulates H^-1[k][k]
            for (int i = 0; i <= k; i++) {
                double mki = buffer[i];
                if (mki != 0) {
                    int rowI = i * n;
                    for (int j = i; j <= k; j++) {
                        a[rowI + j] += mki * buffer[j];
                    }
                }
            }
        }
        // upper Cholesky H^-1 = U^T U, right-looking, in the upper triangle
        for (int i = 0; i < n; i++) {
            int rowI = i * n;
            double pivot = a[rowI + i];
            if (!(pivot > 0)) {
                throw notPositiveDefinite(i, dampening);
            }
            double uii = Math.sqrt(pivot);
            a[rowI + i] = uii;
            for (int j = i + 1; j < n; j++) {
                a[rowI + j] /= uii;
            }
            for (int j = i + 1; j < n; j++) {
                double uij = a[rowI + j];
                if (uij != 0) {
                    int rowJ = j * n;
                    for (int k = j; k < n; k++) {
                        a[rowJ + k] -= uij * a[rowI + k];
                    }
                }
            }
        }
        // clear the strictly lower triangle (scratch): U is upper
        for (int i = 0; i < n; i++) {
            Arrays.fill(a, i * n, i * n + i, 0);
        }
        return a;
    }

    private static InvalidInputException notPositiveDefinite(int position, double dampening) {
        return new InvalidInputException("gptq_dampening: the dampened Hessian is not positive definite (pivot "
                + position + ") with dampening " + dampening
                + "; raise gptq_dampening, or check the calibration inputs for NaN or infinite activations");
    }

    /** The column sweep of one matrix: state and outputs (outputs in the original column layout). */
    private static final class Sweep {

        private final int rows;
        private final int columns;
        private final QuantSpec spec;
        private final boolean[] cherryMask;
        private final int[] order;
        private final int[] positionOf;
        /** (rows, columns) in sweep order: weights as updated so far (lazily beyond the current block). */
        private final double[] work;
        /** (columns, columns) in sweep order: U, upper. */
        private final double[] upper;
        private final int blockSize;
        private final boolean halfPrecisionScales;
        private final int groupLength;
        private final int groupsPerRow;
        private final int half;
        private final int maxCode;
        /** Per (row, group), filled when the sweep reaches the group. */
        private final float[] scale;
        private final float[] zero;
        private final float[] lowBound;
        private final float[] highBound;
        private final int[] lowCode;
        private final int[] highCode;
        private final boolean[] groupStarted;
        /** (rows, columns) original layout. */
        private final boolean[] pinned;
        final float[] latent;
        final float[] dequantized;
        final int[] codes;
        int pinnedPositions;
        /** Sum of the squared scaled errors ((w - q) / U[p][p])^2: tr(E H' E^T) for the dampened H'. */
        double squaredScaledErrors;
        /** (rows, blockSize): the current block's scaled errors (w - q) / U[p][p]. */
        private final double[] blockErrors;

        Sweep(int rows, int columns, QuantSpec spec, boolean[] cherryMask, int[] order, int[] positionOf, double[] work,
                double[] upper, int blockSize, boolean halfPrecisionScales) {
            this.rows = rows;
            this.columns = columns;
            this.spec = spec;
            this.cherryMask = cherryMask;
            this.order = order;
            this.positionOf = positionOf;
            this.work = work;
            this.upper = upper;
            this.blockSize = Math.min(blockSize, columns);
            this.halfPrecisionScales = halfPrecisionScales;
            this.groupLength = spec.groupLength(columns);
            this.groupsPerRow = spec.groupsPerRow(columns);
            this.half = spec.levels() / 2;
            this.maxCode = spec.levels() - 1;
            int groups = rows * groupsPerRow;
            this.scale = new float[groups];
            this.zero = new float[groups];
            this.lowBound = new float[groups];
            this.highBound = new float[groups];
            this.lowCode = new int[groups];
            this.highCode = new int[groups];
            this.groupStarted = new boolean[groupsPerRow];
            this.pinned = new boolean[rows * columns];
            this.latent = new float[rows * columns];
            this.dequantized = new float[rows * columns];
            this.codes = new int[rows * columns];
            this.blockErrors = new double[rows * this.blockSize];
        }

        void run() {
            for (int blockStart = 0; blockStart < columns; blockStart += blockSize) {
                int blockEnd = Math.min(blockStart + blockSize, columns);
                for (int position = blockStart; position < blockEnd; position++) {
                    int column = order[position];
                    int group = column / groupLength;
                    if (!groupStarted[group]) {
                        startGroup(group, blockStart, blockEnd, position);
                    }
                    roundColumn(position, column, group, blockStart, blockEnd);
                }
                // lazy batch update: W[:, blockEnd:] -= E_block U[block, blockEnd:]
                int count = blockEnd - blockStart;
                for (int r = 0; r < rows; r++) {
                    int workRow = r * columns;
                    for (int t = 0; t < count; t++) {
                        double error = blockErrors[r * blockSize + t];
                        if (error != 0) {
                            int upperRow = (blockStart + t) * columns;
                            for (int k = blockEnd; k < columns; k++) {
                                work[workRow + k] -= error * upper[upperRow + k];
                            }
                        }
                    }
                }
            }
        }

        /** Rounds the column at {@code position}, records its scaled error and updates the rest of the block. */
        private void roundColumn(int position, int column, int group, int blockStart, int blockEnd) {
            double pivot = upper[position * columns + position];
            int upperRow = position * columns;
            for (int r = 0; r < rows; r++) {
                int index = r * columns + column;
                double w = work[r * columns + position];
                double q;
                if (cherryMask != null && cherryMask[index]) {
                    // a cherry keeps its (compensated) full-precision value: no rounding error
                    latent[index] = (float) w;
                    dequantized[index] = (float) w;
                    q = w;
                } else {
                    int groupIndex = r * groupsPerRow + group;
                    // pinned: the code RTN gives the pinned value; otherwise the nearest reachable level of w
                    int code = pinned[index] ? rtnCode(latent[index], groupIndex)
                            : Math.max(lowCode[groupIndex], Math.min(highCode[groupIndex], rtnCode((float) w, groupIndex)));
                    float level = level(code, groupIndex);
                    if (!pinned[index]) {
                        // the level itself is the centre of its code's bin; clamped into the group's range
                        latent[index] = Math.max(lowBound[groupIndex], Math.min(highBound[groupIndex], level));
                    }
                    codes[index] = code;
                    dequantized[index] = level;
                    q = level;
                }
                // OBS update inside the block: w[k] -= (w - q) / U[p][p] * U[p][k] for later k in the block
                double error = (w - q) / pivot;
                blockErrors[r * blockSize + position - blockStart] = error;
                squaredScaledErrors += error * error;
                if (error != 0) {
                    int workRow = r * columns;
                    for (int k = position + 1; k < blockEnd; k++) {
                        work[workRow + k] -= error * upper[upperRow + k];
                    }
                }
            }
        }

        /**
         * Group statistics from the group's current weights (cherries left out), as GroupQuantizer computes them,
         * and the pinned elements that define them. Columns beyond the block still owe the block's pending updates.
         */
        private void startGroup(int group, int blockStart, int blockEnd, int position) {
            groupStarted[group] = true;
            int first = group * groupLength;
            int last = Math.min(first + groupLength, columns);
            int done = position - blockStart;
            for (int r = 0; r < rows; r++) {
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                int argMin = -1;
                int argMax = -1;
                float[] current = new float[last - first];
                for (int column = first; column < last; column++) {
                    if (cherryMask != null && cherryMask[r * columns + column]) {
                        continue;
                    }
                    int at = positionOf[column];
                    double w = work[r * columns + at];
                    if (at >= blockEnd) {
                        for (int t = 0; t < done; t++) {
                            w -= blockErrors[r * blockSize + t] * upper[(blockStart + t) * columns + at];
                        }
                    }
                    float value = (float) w;
                    current[column - first] = value;
                    if (argMin < 0 || value < min) {
                        argMin = column;
                    }
                    if (argMax < 0 || value > max) {
                        argMax = column;
                    }
                    min = Math.min(min, value);
                    max = Math.max(max, value);
                }
                if (argMin < 0) { // every position a cherry
                    min = 0;
                    max = 0;
                }
                int groupIndex = r * groupsPerRow + group;
                if (spec.scheme().scaledByAbsMax()) {
                    // sym-full: s = absmax / 2^(b-1); sym: s = 2 absmax / (2^b - 1); pinned: the element of largest |w|
                    float absMax = Math.max(Math.abs(min), Math.abs(max));
                    scale[groupIndex] = storedScale(spec.scheme() == QuantScheme.SYM_FULL ? absMax / half
                            : 2 * absMax / maxCode);
                    lowBound[groupIndex] = -absMax;
                    highBound[groupIndex] = absMax;
                    if (argMin >= 0) {
                        int argAbsMax = Math.abs(max) >= Math.abs(min) ? argMax : argMin;
                        pin(r, argAbsMax, current[argAbsMax - first]);
                    }
                } else {
                    // s = (max - min) / (2^b - 1), z = round(-min / s); pinned: the min and max elements
                    float range = max - min;
                    scale[groupIndex] = storedScale(range / maxCode);
                    zero[groupIndex] = (float) Math.rint(-min / scale[groupIndex]);
                    lowBound[groupIndex] = min;
                    highBound[groupIndex] = max;
                    if (argMin >= 0) {
                        pin(r, argMin, current[argMin - first]);
                        pin(r, argMax, current[argMax - first]);
                    }
                }
                // the codes RTN can give a weight inside the group's range
                lowCode[groupIndex] = rtnCode(lowBound[groupIndex], groupIndex);
                highCode[groupIndex] = rtnCode(highBound[groupIndex], groupIndex);
            }
        }

        private void pin(int row, int column, float value) {
            int index = row * columns + column;
            if (!pinned[index]) {
                pinned[index] = true;
                latent[index] = value;
                pinnedPositions++;
            }
        }

        /** GroupQuantizer's stored scale: at least MIN_SCALE, optionally rounded to f16 (at least the smallest f16). */
        private float storedScale(float scale) {
            float positive = Math.max(scale, GroupQuantizer.MIN_SCALE);
            return halfPrecisionScales ? Math.max(HalfPrecision.roundToF16(positive), 0x1p-24f) : positive;
        }

        /** GroupQuantizer's code of {@code value}, in the same f32 arithmetic. */
        private int rtnCode(float value, int groupIndex) {
            if (spec.scheme() == QuantScheme.SYM_FULL) {
                double k = Math.floor(value / scale[groupIndex]);
                return (int) Math.max(-half, Math.min(half - 1, k)) + half;
            }
            if (spec.scheme() == QuantScheme.SYM) {
                float k = (float) Math.rint(value / scale[groupIndex]);
                return (int) Math.max(-half, Math.min(half - 1, k)) + half;
            }
            float q = (float) Math.rint(value / scale[groupIndex] + zero[groupIndex]);
            return (int) Math.max(0, Math.min(maxCode, q));
        }

        /** The value a code stands for, as {@link QuantizedMatrix#level} computes it. */
        private float level(int code, int groupIndex) {
            return switch (spec.scheme()) {
                case SYM_FULL -> (code - half + 0.5f) * scale[groupIndex];
                case SYM -> (code - half) * scale[groupIndex];
                case ASYM -> (code - zero[groupIndex]) * scale[groupIndex];
            };
        }
    }
}
