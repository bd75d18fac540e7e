package dev.cherryq.core.selection;

import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.GroupQuantizer;

/**
 * The group-aware criterion: a cherry is worth the Fisher-weighted rounding error its whole group saves when it
 * leaves the group, not only its own. Removing a weight from a group saves its own term F_ii (w_i - q(w_i))^2
 * (the {@link SaliencyScores saliency}); when the weight is one that sets the group's scale (sym-full: the absmax;
 * asym: the minimum or the maximum), the group's grid is refitted without it, usually finer, and every other weight
 * of the group rounds with a smaller error too:
 *
 * <pre>  score_i = sum_{j in g} F_jj (w_j - q(w_j))^2 - sum_{j in g, j != i} F_jj (w_j - q'(w_j))^2</pre>
 *
 * with q the group's grid and q' the grid refitted without w_i. For a weight that sets no statistic, q' = q and
 * the score is its saliency. This is what the magnitude criterion gets right by accident (the largest |w| sets the
 * scale), weighted by what the loss cares about. Scores are computed once per weight, as if it were the only cherry
 * of its group; with several cherries per group the later ones are ranked on the original grid.
 */
public final class GroupAwareScores {

    private GroupAwareScores() {}

    /**
     * @param impacts F_ii of a [rows, columns] weight, row-major
     * @param weights the weight, row-major
     * @return the Fisher-weighted rounding error each weight's removal saves its group, row-major
     */
    public static float[] of(float[] impacts, float[] weights, int rows, int columns, QuantSpec spec) {
        float[] scores = SaliencyScores.of(impacts, weights, rows, columns, spec); // its own term, for every weight
        double[] before = weightedErrors(impacts, weights, GroupQuantizer.quantize(weights, rows, columns, spec)
                .dequantize());
        // the statistic-defining elements: one kind at a time (sym-full and sym: absmax; asym: max, then min)
        boolean[][] kinds = spec.scheme().scaledByAbsMax()
                ? new boolean[][] {statisticElements(weights, rows, columns, spec, Statistic.ABSMAX)}
                : new boolean[][] {statisticElements(weights, rows, columns, spec, Statistic.MAX),
                        statisticElements(weights, rows, columns, spec, Statistic.MIN)};
        int groupLength = spec.groupLength(columns);
        for (boolean[] removed : kinds) {
            // every group refitted without its element of this kind, all groups in one pass
            double[] after = weightedErrors(impacts, weights, GroupQuantizer.quantize(weights, rows, columns, spec,
                    removed).dequantize());
            for (int row = 0; row < rows; row++) {
                for (int start = 0; start < columns; start += groupLength) {
                    int end = Math.min(columns, start + groupLength);
                    double saved = 0; // the group's error now, minus its error without the element
                    int element = -1;
                    for (int c = start; c < end; c++) {
                        int i = row * columns + c;
                        saved += before[i];
                        if (removed[i]) {
                            element = i;
                        } else {
                            saved -= after[i];
                        }
                    }
                    if (element >= 0) {
                        scores[element] = (float) saved; // may be below its own term: a refitted grid can fit worse
                    }
                }
            }
        }
        return scores;
    }

    private enum Statistic { ABSMAX, MAX, MIN }

    /** Per group, the first position of the group's absmax, maximum or minimum. */
    private static boolean[] statisticElements(float[] weights, int rows, int columns, QuantSpec spec,
            Statistic statistic) {
        boolean[] mask = new boolean[weights.length];
        int groupLength = spec.groupLength(columns);
        for (int row = 0; row < rows; row++) {
            for (int start = 0; start < columns; start += groupLength) {
                int end = Math.min(columns, start + groupLength);
                int best = row * columns + start;
                for (int c = start + 1; c < end; c++) {
                    int i = row * columns + c;
                    boolean better = switch (statistic) {
                        case ABSMAX -> Math.abs(weights[i]) > Math.abs(weights[best]);
                        case MAX -> weights[i] > weights[best];
                        case MIN -> weights[i] < weights[best];
                    };
                    best = better ? i : best;
                }
                mask[best] = true;
            }
        }
        return mask;
    }

    private static double[] weightedErrors(float[] impacts, float[] weights, float[] rounded) {
        double[] errors = new double[weights.length];
        for (int i = 0; i < weights.length; i++) {
            double error = (double) weights[i] - rounded[i];
            errors[i] = impacts[i] * error * error;
        }
        return errors;
    }
}
