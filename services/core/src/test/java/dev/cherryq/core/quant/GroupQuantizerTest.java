package dev.cherryq.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Properties of the group quantizer that follow from the definitions of the two schemes. */
class GroupQuantizerTest {

    private static float[] gaussian(int n, long seed) {
        Random random = new Random(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    @Test
    void shouldUseExactly2PowBitsSymmetricLevelsWithoutZeroForSymFull() {
        for (int bits = 2; bits <= 8; bits++) {
            QuantSpec spec = new QuantSpec(bits, -1, QuantScheme.SYM_FULL);
            // a dense ramp over [-1, 1] hits every level
            int n = 4096;
            float[] ramp = new float[n];
            for (int i = 0; i < n; i++) {
                ramp[i] = -1f + 2f * i / (n - 1);
            }
            QuantizedMatrix q = GroupQuantizer.quantize(ramp, 1, n, spec);
            Set<Float> levels = new HashSet<>();
            for (float value : q.dequantize()) {
                levels.add(value);
            }
            assertEquals(1 << bits, levels.size(), bits + "-bit level count");
            assertTrue(!levels.contains(0f), "sym-full has no zero level");
            float scale = q.scales()[0];
            assertEquals(1f / (1 << (bits - 1)), scale, 1e-7f, "s = absmax / 2^(b-1)");
            for (float level : levels) {
                assertTrue(levels.contains(-level), "levels are symmetric: " + level);
                double k = level / scale - 0.5;
                assertEquals(Math.rint(k), k, 1e-4, "level (k + 1/2) s");
            }
        }
    }

    @Test
    void shouldKeepErrorWithinHalfScaleInsideRangeForBothSchemesAndAllWidths() {
        for (QuantScheme scheme : QuantScheme.values()) {
            for (int bits = 2; bits <= 8; bits++) {
                for (int groupSize : new int[] {-1, 7, 16, 33}) {
                    int rows = 5;
                    int columns = 45; // remainder groups for 7, 16 and 33
                    QuantSpec spec = new QuantSpec(bits, groupSize, scheme);
                    float[] weights = gaussian(rows * columns, bits * 31L + groupSize);
                    QuantizedMatrix q = GroupQuantizer.quantize(weights, rows, columns, spec);
                    float[] restored = q.dequantize();
                    int groupLength = spec.groupLength(columns);
                    for (int i = 0; i < weights.length; i++) {
                        int group = (i / columns) * spec.groupsPerRow(columns) + (i % columns) / groupLength;
                        float bound = q.scales()[group] / 2 * (1 + 1e-5f) + 1e-7f;
                        assertTrue(Math.abs(restored[i] - weights[i]) <= bound, scheme + " " + bits + "-bit g" + groupSize
                                + ": error " + Math.abs(restored[i] - weights[i]) + " > s/2 = " + bound);
                        assertTrue(q.codes()[i] >= 0 && q.codes()[i] < (1 << bits));
                    }
                }
            }
        }
    }

    @Test
    void shouldNotLetExcludedPositionsInfluenceGroupScales() {
        Random random = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            int columns = 10 + random.nextInt(60);
            int rows = 1 + random.nextInt(4);
            QuantSpec spec = new QuantSpec(2 + random.nextInt(7), random.nextBoolean() ? -1 : 1 + random.nextInt(20),
                    random.nextBoolean() ? QuantScheme.SYM_FULL : QuantScheme.ASYM);
            float[] weights = gaussian(rows * columns, trial);
            boolean[] excluded = new boolean[weights.length];
            for (int i = 0; i < excluded.length; i++) {
                excluded[i] = random.nextInt(8) == 0;
            }
            QuantizedMatrix before = GroupQuantizer.quantize(weights, rows, columns, spec, excluded);
            // blow the excluded weights up: scales and zero points must not move
            float[] perturbed = weights.clone();
            for (int i = 0; i < perturbed.length; i++) {
                if (excluded[i]) {
                    perturbed[i] *= 1000f * (1 + random.nextFloat());
                }
            }
            QuantizedMatrix after = GroupQuantizer.quantize(perturbed, rows, columns, spec, excluded);
            assertArrayEquals(before.scales(), after.scales(), "trial " + trial);
            if (spec.scheme() == QuantScheme.ASYM) {
                assertArrayEquals(before.zeroPoints(), after.zeroPoints());
            }
        }
    }

    @Test
    void shouldRejectInvalidSpecsWithTheFieldNamed() {
        assertTrue(assertThrows(InvalidInputException.class, () -> new QuantSpec(1, 128, QuantScheme.ASYM))
                .getMessage().contains("bits: 1"));
        assertTrue(assertThrows(InvalidInputException.class, () -> new QuantSpec(9, 128, QuantScheme.ASYM))
                .getMessage().contains("bits: 9"));
        assertTrue(assertThrows(InvalidInputException.class, () -> new QuantSpec(4, 0, QuantScheme.ASYM))
                .getMessage().contains("group_size: 0"));
        assertTrue(assertThrows(InvalidInputException.class, () -> new QuantSpec(4, -2, QuantScheme.ASYM))
                .getMessage().contains("group_size: -2"));
        assertTrue(assertThrows(InvalidInputException.class, () -> QuantScheme.parse("nf4")).getMessage()
                .contains("'nf4'"));
    }
}
