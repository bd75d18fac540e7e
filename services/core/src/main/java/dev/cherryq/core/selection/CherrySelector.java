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

    /**
     * The k columns with the largest score in one row (ties: lower column first), by partial selection: a heap of
     * the best k so far, whose root is the worst of them, so a row costs columns * log k, not a sort of the row.
     */
    private static int[] topColumns(float[] score, int offset, int columns, int k, boolean absolute) {
        float[] heapScores = new float[k]; // [k] a min-heap by (score, then higher column first)
        int[] heapColumns = new int[k];
        int size = 0;
        for (int c = 0; c < columns; c++) {
            float value = absolute ? Math.abs(score[offset + c]) : score[offset + c];
            if (size < k) { // fill: sift the new column up
                int i = size++;
                while (i > 0 && worse(value, c, heapScores[(i - 1) / 2], heapColumns[(i - 1) / 2])) {
                    heapScores[i] = heapScores[(i - 1) / 2];
                    heapColumns[i] = heapColumns[(i - 1) / 2];
                    i = (i - 1) / 2;
                }
                heapScores[i] = value;
                heapColumns[i] = c;
            } else if (k > 0 && Float.compare(value, heapScores[0]) > 0) { // beats the worst kept: sift it down
                int i = 0;
                while (true) {
                    int child = 2 * i + 1;
                    if (child >= k) {
                        break;
                    }
                    if (child + 1 < k && worse(heapScores[child + 1], heapColumns[child + 1], heapScores[child],
                            heapColumns[child])) {
                        child++;
                    }
                    if (!worse(heapScores[child], heapColumns[child], value, c)) {
                        break;
                    }
                    heapScores[i] = heapScores[child];
                    heapColumns[i] = heapColumns[child];
                    i = child;
                }
                heapScores[i] = value;
                heapColumns[i] = c;
            } // an equal score never displaces a kept one: columns come in ascending order, and lower ones win ties
        }
        return heapColumns;
    }

    /** Whether (score a, column a) ranks below (score b, column b): a lower score, or the same and a higher column. */
    private static boolean worse(float scoreA, int columnA, float scoreB, int columnB) {
        int byScore = Float.compare(scoreA, scoreB);
        return byScore < 0 || byScore == 0 && columnA > columnB;
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
