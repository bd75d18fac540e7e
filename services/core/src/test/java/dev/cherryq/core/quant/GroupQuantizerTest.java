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

/**
 * Properties of the group quantizer that follow from the definitions of its schemes, and its {@code sym} grid against
 * GPTQ's reference quantizer written out naively.
 */
class GroupQuantizerTest {

    private static final int RAMP_LENGTH = 4096;

    /** A dense ramp over [-1, 1]. */
    private static float[] ramp() {
        float[] ramp = new float[RAMP_LENGTH];
        for (int i = 0; i < RAMP_LENGTH; i++) {
            ramp[i] = -1f + 2f * i / (RAMP_LENGTH - 1);
        }
        return ramp;
    }

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
            QuantizedMatrix q = GroupQuantizer.quantize(ramp(), 1, RAMP_LENGTH, spec); // hits every level
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
    void shouldUseGptqsIntegerLevelsAroundZeroForSym() {
        for (int bits = 2; bits <= 8; bits++) {
            QuantSpec spec = new QuantSpec(bits, -1, QuantScheme.SYM);
            QuantizedMatrix q = GroupQuantizer.quantize(ramp(), 1, RAMP_LENGTH, spec);
            Set<Float> levels = new HashSet<>();
            for (float value : q.dequantize()) {
                levels.add(value);
            }
            float scale = q.scales()[0];
            assertEquals(2f / ((1 << bits) - 1), scale, 1e-7f, "s = 2 absmax / (2^b - 1)");
            // -absmax / s = 1/2 - 2^(b-1) is a tie: the lowest level -2^(b-1) s is reached only when it rounds down
            assertTrue(levels.size() >= (1 << bits) - 1, bits + "-bit level count " + levels.size());
            assertTrue(levels.contains(0f), "sym has a zero level");
            assertTrue(levels.contains(((1 << (bits - 1)) - 1) * scale), "the highest level is (2^(b-1) - 1) s");
            for (float level : levels) {
                double k = level / scale;
                assertEquals(Math.rint(k), k, 1e-4, "level k s");
                assertTrue(k >= -(1 << (bits - 1)) && k <= (1 << (bits - 1)) - 1, "k in range: " + k);
            }
        }
    }

    @Test
    void shouldEqualGptqsReferenceQuantizerOnGroupsOfBothSigns() {
        // GPTQ's Quantizer (gptq/quant.py, sym=True) written out naively: xmin = min(min, 0), xmax = max(max, 0);
        // xmax = max(|xmin|, xmax), xmin = -xmax; scale = (xmax - xmin) / maxq; zero = (maxq + 1) / 2;
        // q = clamp(round(x / scale) + zero, 0, maxq); x' = scale (q - zero)
        int oneSigned = 0;
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (int groupSize : new int[] {8, 32, 128}) {
                int rows = 6;
                int columns = 256;
                QuantSpec spec = new QuantSpec(bits, groupSize, QuantScheme.SYM);
                float[] weights = gaussian(rows * columns, 7L * bits + groupSize);
                float[] ours = GroupQuantizer.quantize(weights, rows, columns, spec).dequantize();
                int maxq = (1 << bits) - 1;
                for (int row = 0; row < rows; row++) {
                    for (int start = 0; start < columns; start += groupSize) {
                        float xmin = 0;
                        float xmax = 0;
                        for (int c = start; c < start + groupSize; c++) {
                            xmin = Math.min(xmin, weights[row * columns + c]);
                            xmax = Math.max(xmax, weights[row * columns + c]);
                        }
                        if (!(xmin < 0 && xmax > 0)) {
                            oneSigned++; // the reference then takes another scale (QuantScheme.SYM): not compared
                            continue;
                        }
                        xmax = Math.max(Math.abs(xmin), xmax);
                        xmin = -xmax;
                        float scale = (xmax - xmin) / maxq;
                        float zero = (maxq + 1) / 2f;
                        for (int c = start; c < start + groupSize; c++) {
                            int i = row * columns + c;
                            float q = Math.max(0, Math.min(maxq, (float) Math.rint(weights[i] / scale) + zero));
                            assertEquals(scale * (q - zero), ours[i], 0f, bits + "-bit g" + groupSize + " at " + i);
                        }
                    }
                }
            }
        }
        // groups of 8 Gaussian weights are one-signed with probability 1/128: about 6 of the 768
        assertTrue(oneSigned < 20, oneSigned + " one-signed groups of " + 4 * 6 * (32 + 8 + 2) + " left uncompared");
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
