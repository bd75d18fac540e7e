package dev.cherryq.core.selection;

import dev.cherryq.core.InvalidInputException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Picks, per output row of each linear weight, the k input positions with the highest score (impact, |w|, or
 * seeded random). k per row is {@code max(1, round(fraction * columns))} when the fraction is positive and 0 when
 * it is 0. The reference code instead rounds fraction x columns down to a multiple of 8, which leaves rows narrower
 * than 512 with no cherries at the default 1/256; ours keeps at least one per row, so small models are covered.
 * Ties go to the lower column index, so selection is deterministic.
 */
public final class CherrySelector {

    private CherrySelector() {}

    public static int cherriesPerRow(double fraction, int columns) {
        validateFraction(fraction);
        if (fraction == 0) {
            return 0;
        }
        return (int) Math.min(columns, Math.max(1, Math.round(fraction * columns)));
    }

    public static void validateFraction(double fraction) {
        if (!(fraction >= 0 && fraction <= 0.5)) {
            throw new InvalidInputException("cherry_fraction: " + fraction + " is out of range 0..0.5");
        }
    }

    /**
     * @param scores per weight name, row-major (rows, columns): impacts for IMPACT, the weights for MAGNITUDE
     *     (absolute value taken here); only the shapes are used for RANDOM
     * @param shapes per weight name, [rows, columns]
     */
    public static CherrySet select(SelectionCriterion criterion, double fraction, Map<String, float[]> scores,
            Map<String, long[]> shapes, long seed) {
        validateFraction(fraction);
        Map<String, CherrySet.Layer> layers = new LinkedHashMap<>();
        SplittableRandom random = new SplittableRandom(seed);
        for (Map.Entry<String, long[]> entry : shapes.entrySet()) {
            int rows = (int) entry.getValue()[0];
            int columns = (int) entry.getValue()[1];
            int perRow = cherriesPerRow(fraction, columns);
            float[] score = scores.get(entry.getKey());
            if (criterion != SelectionCriterion.RANDOM && (score == null || score.length != rows * columns)) {
                throw new IllegalArgumentException("no " + criterion.cliName() + " scores for " + entry.getKey());
            }
            int[] selected = new int[rows * perRow];
            for (int row = 0; row < rows; row++) {
                int[] top = criterion == SelectionCriterion.RANDOM ? randomColumns(random, columns, perRow)
                        : topColumns(score, row * columns, columns, perRow, criterion == SelectionCriterion.MAGNITUDE);
                java.util.Arrays.sort(top);
                System.arraycopy(top, 0, selected, row * perRow, perRow);
            }
            layers.put(entry.getKey(), new CherrySet.Layer(rows, columns, perRow, selected));
        }
        return new CherrySet(criterion, fraction, layers);
    }

    /** The k columns with the largest score in one row (ties: lower column first), by partial selection. */
    private static int[] topColumns(float[] score, int offset, int columns, int k, boolean absolute) {
        Integer[] order = new Integer[columns];
        for (int c = 0; c < columns; c++) {
            order[c] = c;
        }
        java.util.Arrays.sort(order, (a, b) -> {
            float sa = absolute ? Math.abs(score[offset + a]) : score[offset + a];
            float sb = absolute ? Math.abs(score[offset + b]) : score[offset + b];
            int byScore = Float.compare(sb, sa);
            return byScore != 0 ? byScore : Integer.compare(a, b);
        });
        int[] top = new int[k];
        for (int i = 0; i < k; i++) {
            top[i] = order[i];
        }
        return top;
    }

    /** k distinct columns uniformly at random (partial Fisher-Yates). */
    private static int[] randomColumns(SplittableRandom random, int columns, int k) {
        int[] pool = new int[columns];
        for (int c = 0; c < columns; c++) {
            pool[c] = c;
        }
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(columns - i);
            int swap = pool[i];
            pool[i] = pool[j];
            pool[j] = swap;
        }
        return java.util.Arrays.copyOf(pool, k);
    }
}
