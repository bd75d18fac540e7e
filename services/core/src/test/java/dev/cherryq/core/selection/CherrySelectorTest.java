package dev.cherryq.core.selection;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.scoring.HeterogeneityScore;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CherrySelectorTest {

    @TempDir
    Path dir;

    @Test
    void shouldRoundTheFractionToAtLeastOnePerRow() {
        assertEquals(1, CherrySelector.cherriesPerRow(1.0 / 256, 64), "small rows still get a cherry");
        assertEquals(16, CherrySelector.cherriesPerRow(1.0 / 256, 4096), "LLaMA-2-7B rows: 16, as in the paper");
        assertEquals(0, CherrySelector.cherriesPerRow(0, 4096), "fraction 0: plain QAT");
        assertEquals(3, CherrySelector.cherriesPerRow(0.5, 5));
        assertTrue(assertThrows(InvalidInputException.class, () -> CherrySelector.cherriesPerRow(0.6, 10)).getMessage()
                .contains("cherry_fraction: 0.6"));
        assertThrows(InvalidInputException.class, () -> CherrySelector.cherriesPerRow(-0.01, 10));
    }

    @Test
    void shouldPickEachRowsHighestScoresByImpactAndByMagnitude() {
        int rows = 7;
        int columns = 50;
        Random random = new Random(4);
        float[] scores = new float[rows * columns];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = (float) random.nextGaussian();
        }
        Map<String, long[]> shapes = Map.of("w", new long[] {rows, columns});
        for (SelectionCriterion criterion : new SelectionCriterion[] {SelectionCriterion.IMPACT, SelectionCriterion.MAGNITUDE}) {
            CherrySet set = CherrySelector.select(criterion, 0.1, Map.of("w", scores), shapes, 1);
            CherrySet.Layer layer = set.layers().get("w");
            assertEquals(5, layer.perRow());
            boolean[] mask = layer.mask();
            for (int row = 0; row < rows; row++) {
                // brute force: every selected score is at least every unselected one in the row
                float lowestSelected = Float.POSITIVE_INFINITY;
                float highestOther = Float.NEGATIVE_INFINITY;
                for (int c = 0; c < columns; c++) {
                    float s = criterion == SelectionCriterion.MAGNITUDE ? Math.abs(scores[row * columns + c])
                            : scores[row * columns + c];
                    if (mask[row * columns + c]) {
                        lowestSelected = Math.min(lowestSelected, s);
                    } else {
                        highestOther = Math.max(highestOther, s);
                    }
                }
                assertTrue(lowestSelected >= highestOther, criterion + " row " + row);
            }
        }
    }

    @Test
    void shouldPickDistinctSeededRandomColumnsAndRoundTripThroughAFile() {
        Map<String, long[]> shapes = Map.of("a", new long[] {4, 30}, "b", new long[] {3, 9});
        CherrySet set = CherrySelector.select(SelectionCriterion.RANDOM, 0.2, Map.of(), shapes, 11);
        CherrySet again = CherrySelector.select(SelectionCriterion.RANDOM, 0.2, Map.of(), shapes, 11);
        CherrySet otherSeed = CherrySelector.select(SelectionCriterion.RANDOM, 0.2, Map.of(), shapes, 12);
        assertEquals(set.fingerprint(), again.fingerprint());
        assertNotEquals(set.fingerprint(), otherSeed.fingerprint());
        CherrySet.Layer layer = set.layers().get("a");
        for (int row = 0; row < 4; row++) {
            Set<Integer> columns = new HashSet<>();
            for (int j = 0; j < layer.perRow(); j++) {
                int column = layer.columns()[row * layer.perRow() + j];
                assertTrue(column >= 0 && column < 30);
                columns.add(column);
            }
            assertEquals(layer.perRow(), columns.size(), "distinct columns in row " + row);
        }
        Path file = dir.resolve("cherries.safetensors");
        set.write(file);
        CherrySet read = CherrySet.read(file);
        assertEquals(set.fingerprint(), read.fingerprint());
        assertArrayEquals(set.layers().get("b").columns(), read.layers().get("b").columns());
        assertEquals(4 * 6 + 3 * 2, read.totalCherries(), "round(0.2 x 30) = 6 and round(0.2 x 9) = 2 per row");
    }

    @Test
    void shouldScoreHeterogeneityAsTopOnePercentMeanOverBottomMax() {
        float[] values = new float[200];
        for (int i = 0; i < values.length; i++) {
            values[i] = i + 1; // 1..200: top 1% = {199, 200}, bottom max = 198
        }
        assertEquals(199.5 / 198, HeterogeneityScore.of(values, false), 1e-12);
        values[7] = -1000; // magnitude sees |-1000| at the top
        assertEquals((1000 + 200) / 2.0 / 199, HeterogeneityScore.of(values, true), 1e-12);
    }

    /** The selection as first written, a full sort of each row: the reference the heap selection must match. */
    private static int[] sortedTopColumns(float[] score, int offset, int columns, int k, boolean absolute) {
        Integer[] order = new Integer[columns];
        for (int c = 0; c < columns; c++) {
            order[c] = c;
        }
        Arrays.sort(order, (a, b) -> {
            float sa = absolute ? Math.abs(score[offset + a]) : score[offset + a];
            float sb = absolute ? Math.abs(score[offset + b]) : score[offset + b];
            int byScore = Float.compare(sb, sa);
            return byScore != 0 ? byScore : Integer.compare(a, b);
        });
        int[] top = new int[k];
        for (int i = 0; i < k; i++) {
            top[i] = order[i];
        }
        Arrays.sort(top);
        return top;
    }

    @Test
    void shouldPickTheSameColumnsAsAFullSortOfEachRowTiesIncluded() {
        Random random = new Random(9);
        int rows = 40;
        for (int columns : new int[] {1, 7, 64, 300}) {
            float[] scores = new float[rows * columns];
            for (int i = 0; i < scores.length; i++) { // few distinct values: many ties, signed zeros, infinities
                int draw = random.nextInt(9);
                scores[i] = switch (draw) {
                    case 0 -> 0f;
                    case 1 -> -0f;
                    case 2 -> Float.POSITIVE_INFINITY;
                    case 3 -> Float.NEGATIVE_INFINITY;
                    default -> (draw - 6) * 0.5f;
                };
                scores[i] = random.nextInt(3) == 0 ? (float) random.nextGaussian() : scores[i];
            }
            Map<String, long[]> shapes = Map.of("w", new long[] {rows, columns});
            for (double fraction : new double[] {0, 1.0 / 256, 0.1, 0.5}) {
                for (SelectionCriterion criterion : new SelectionCriterion[] {SelectionCriterion.IMPACT,
                        SelectionCriterion.MAGNITUDE}) {
                    CherrySet.Layer layer = CherrySelector.select(criterion, fraction, Map.of("w", scores), shapes, 0)
                            .layers().get("w");
                    int k = layer.perRow();
                    for (int row = 0; row < rows; row++) {
                        int[] expected = sortedTopColumns(scores, row * columns, columns, k,
                                criterion == SelectionCriterion.MAGNITUDE);
                        int[] actual = Arrays.copyOfRange(layer.columns(), row * k, row * k + k);
                        assertArrayEquals(expected, actual, criterion + " " + columns + " columns, fraction "
                                + fraction + ", row " + row);
                    }
                }
            }
        }
    }

    /** The score as first written, over a sorted copy: the reference the radix selection must match bit for bit. */
    private static double sortedHeterogeneity(float[] values, boolean absolute) {
        float[] sorted = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            sorted[i] = absolute ? Math.abs(values[i]) : values[i];
        }
        Arrays.sort(sorted);
        int top = Math.max(1, (int) Math.ceil(sorted.length * 0.01));
        double topMean = 0;
        for (int i = sorted.length - top; i < sorted.length; i++) {
            topMean += sorted[i];
        }
        topMean /= top;
        double bottomMax = sorted[sorted.length - top - 1];
        return bottomMax > 0 ? topMean / bottomMax : Double.POSITIVE_INFINITY;
    }

    @Test
    void shouldScoreHeterogeneityExactlyAsOverASortedCopy() {
        Random random = new Random(21);
        for (int n : new int[] {2, 3, 99, 100, 101, 1000, 65_537, 200_000}) {
            float[] gaussian = new float[n];
            float[] ties = new float[n];
            float[] heavy = new float[n];
            for (int i = 0; i < n; i++) {
                gaussian[i] = (float) random.nextGaussian();
                ties[i] = random.nextInt(5) == 0 ? -0f : (random.nextInt(7) - 3) * 0.25f; // few values, signed zeros
                heavy[i] = (float) (Math.exp(8 * random.nextDouble()) * 1e-9); // positive, spanning 8 e-folds
            }
            for (float[] values : new float[][] {gaussian, ties, heavy}) {
                for (boolean absolute : new boolean[] {false, true}) {
                    assertEquals(sortedHeterogeneity(values, absolute), HeterogeneityScore.of(values, absolute), 0.0,
                            n + " values, absolute " + absolute);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> HeterogeneityScore.of(new float[1], false));
    }
}
