package dev.cherryq.core.selection;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SaliencyScoresTest {

    @Test
    void shouldEqualImpactTimesTheSquaredRoundingErrorOfANaiveRounder() {
        Random random = new Random(3);
        int rows = 4;
        int columns = 24;
        float[] weights = new float[rows * columns];
        float[] impacts = new float[rows * columns];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (float) random.nextGaussian();
            impacts[i] = random.nextFloat();
        }
        QuantSpec spec = new QuantSpec(3, 8, QuantScheme.SYM_FULL);
        float[] saliency = SaliencyScores.of(impacts, weights, rows, columns, spec);
        for (int row = 0; row < rows; row++) {
            for (int group = 0; group < columns / 8; group++) {
                // the paper's sym-full grid written out: s = absmax / 4, levels (k + 1/2) s for k = -4..3
                double absMax = 0;
                for (int c = group * 8; c < group * 8 + 8; c++) {
                    absMax = Math.max(absMax, Math.abs(weights[row * columns + c]));
                }
                double scale = absMax / 4;
                for (int c = group * 8; c < group * 8 + 8; c++) {
                    int i = row * columns + c;
                    double k = Math.max(-4, Math.min(3, Math.floor(weights[i] / scale)));
                    double error = weights[i] - (k + 0.5) * scale;
                    assertEquals(impacts[i] * error * error, saliency[i], 1e-6 * (1 + impacts[i] * error * error),
                            "row " + row + " column " + c);
                }
            }
        }
    }

    @Test
    void shouldGiveNoSaliencyToAWeightOnALevel() {
        // group absmax 4 at 2 bits: s = 2, levels -3, -1, 1, 3; the weight 1.0 sits on a level, the absmax 4 does not
        float[] weights = {1.0f, 4.0f, -3.0f, 0.5f};
        float[] saliency = SaliencyScores.of(new float[] {10, 1, 1, 1}, weights, 1, 4,
                new QuantSpec(2, 4, QuantScheme.SYM_FULL));
        assertEquals(0.0, saliency[0], 0.0);
        assertEquals(1.0, saliency[1], 1e-6, "4 rounds to the top level 3");
        assertEquals(0.0, saliency[2], 0.0);
        assertEquals(0.25, saliency[3], 1e-6);
    }
}
