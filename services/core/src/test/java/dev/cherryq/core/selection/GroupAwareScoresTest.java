package dev.cherryq.core.selection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GroupAwareScoresTest {

    /** Brute force: the group's Fisher-weighted error, then again with weight i removed and the grid refitted. */
    private static double naiveScore(float[] impacts, float[] weights, int rowStart, int groupStart, int groupLength,
            int removed, QuantSpec spec) {
        return groupError(impacts, weights, rowStart + groupStart, groupLength, -1, spec)
                - groupError(impacts, weights, rowStart + groupStart, groupLength, removed, spec);
    }

    /** The grids written out from the schemes' definitions, in double precision. */
    private static double groupError(float[] impacts, float[] weights, int start, int length, int skip,
            QuantSpec spec) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = start; i < start + length; i++) {
            if (i != skip) {
                min = Math.min(min, weights[i]);
                max = Math.max(max, weights[i]);
            }
        }
        double error = 0;
        int levels = spec.levels();
        for (int i = start; i < start + length; i++) {
            if (i == skip) {
                continue;
            }
            double q;
            if (spec.scheme() == QuantScheme.SYM_FULL) {
                double scale = Math.max(Math.abs(min), Math.abs(max)) / (levels / 2);
                double k = Math.max(-levels / 2, Math.min(levels / 2 - 1, Math.floor(weights[i] / scale)));
                q = (k + 0.5) * scale;
            } else if (spec.scheme() == QuantScheme.SYM) {
                double scale = 2 * Math.max(Math.abs(min), Math.abs(max)) / (levels - 1);
                q = Math.max(-levels / 2, Math.min(levels / 2 - 1, Math.rint(weights[i] / scale))) * scale;
            } else {
                double scale = (max - min) / (levels - 1);
                double zero = Math.rint(-min / scale);
                double code = Math.max(0, Math.min(levels - 1, Math.rint(weights[i] / scale + zero)));
                q = (code - zero) * scale;
            }
            error += impacts[i] * (weights[i] - q) * (weights[i] - q);
        }
        return error;
    }

    @Test
    void shouldScoreStatisticElementsByWhatTheirGroupSavesAndOthersByTheirOwnError() {
        Random random = new Random(11);
        int rows = 3;
        int columns = 32;
        float[] weights = new float[rows * columns];
        float[] impacts = new float[rows * columns];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (float) random.nextGaussian();
            impacts[i] = random.nextFloat();
        }
        for (QuantScheme scheme : QuantScheme.values()) {
            for (int bits : new int[] {2, 3}) {
                QuantSpec spec = new QuantSpec(bits, 8, scheme);
                float[] scores = GroupAwareScores.of(impacts, weights, rows, columns, spec);
                for (int row = 0; row < rows; row++) {
                    for (int group = 0; group < columns; group += 8) {
                        for (int c = group; c < group + 8; c++) {
                            int i = row * columns + c;
                            double expected = naiveScore(impacts, weights, row * columns, group, 8, i, spec);
                            assertEquals(expected, scores[i], 1e-4 * Math.max(1, Math.abs(expected)),
                                    scheme + " " + bits + " bits, row " + row + " column " + c);
                        }
                    }
                }
            }
        }
    }

    @Test
    void shouldPreferTheAbsmaxWhoseRemovalRefinesTheWholeGroup() {
        // one outlier sets the scale of a group of small weights: its removal saves far more than its own error
        float[] weights = {8.0f, 0.3f, -0.2f, 0.1f, 0.25f, -0.35f, 0.15f, -0.05f};
        float[] impacts = {1, 1, 1, 1, 1, 1, 1, 1};
        QuantSpec spec = new QuantSpec(2, 8, QuantScheme.SYM_FULL);
        float[] groupAware = GroupAwareScores.of(impacts, weights, 1, 8, spec);
        float[] saliency = SaliencyScores.of(impacts, weights, 1, 8, spec);
        assertTrue(groupAware[0] > 5 * saliency[0], groupAware[0] + " vs its own " + saliency[0]);
        for (int i = 1; i < 8; i++) {
            assertTrue(groupAware[0] > groupAware[i]);
            assertEquals(saliency[i], groupAware[i], 0f, "a weight that sets no statistic scores its saliency");
        }
    }
}
