package dev.cherryq.core.selection;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.scoring.HeterogeneityScore;
import java.nio.file.Path;
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
}
