package dev.cherryq.core.gptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.QuantizedMatrix;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** GptqSolver against the plain textbook update ({@link NaiveGptq}) and against analytic expectations. */
class GptqSolverTest {

    /** Elementwise tolerance against the naive reference: 1e-5 relative (1e-9 absolute floor near zero). */
    private static final double RELATIVE = 1e-5;

    /** A random [rows, columns] problem: gaussian weights, correlated inputs X (tokens, columns), H = 2/n X^T X. */
    record Problem(int rows, int columns, float[] weights, float[] inputs, int tokens, double[] hessian, boolean[] cherries) {

        static Problem random(int rows, int columns, boolean withCherries, boolean withDeadInput, long seed) {
            Random random = new Random(seed);
            float[] weights = new float[rows * columns];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (float) random.nextGaussian();
            }
            // x = F B + 0.3 z: four shared factors make the inputs strongly correlated
            int tokens = 4 * columns;
            int factors = 4;
            double[][] loadings = new double[factors][columns];
            for (double[] row : loadings) {
                for (int c = 0; c < columns; c++) {
                    row[c] = random.nextGaussian();
                }
            }
            float[] inputs = new float[tokens * columns];
            for (int t = 0; t < tokens; t++) {
                double[] f = new double[factors];
                for (int k = 0; k < factors; k++) {
                    f[k] = random.nextGaussian();
                }
                for (int c = 0; c < columns; c++) {
                    double x = 0.3 * random.nextGaussian();
                    for (int k = 0; k < factors; k++) {
                        x += f[k] * loadings[k][c];
                    }
                    inputs[t * columns + c] = withDeadInput && c == 5 ? 0 : (float) x;
                }
            }
            HessianAccumulator accumulator = new HessianAccumulator(columns);
            accumulator.add(inputs, tokens);
            boolean[] cherries = null;
            if (withCherries) {
                // two cherries per row at random columns
                cherries = new boolean[rows * columns];
                for (int r = 0; r < rows; r++) {
                    for (int k = 0; k < 2; k++) {
                        cherries[r * columns + random.nextInt(columns)] = true;
                    }
                }
            }
            return new Problem(rows, columns, weights, inputs, tokens, accumulator.hessian(), cherries);
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        int seed = 0;
        for (int[] shape : new int[][] {{8, 32}, {16, 64}}) {
            for (int groupSize : new int[] {8, 16, QuantSpec.WHOLE_ROW}) {
                for (int bits : new int[] {2, 3}) {
                    for (QuantScheme scheme : QuantScheme.values()) {
                        for (boolean cherries : new boolean[] {false, true}) {
                            for (boolean actOrder : new boolean[] {false, true}) {
                                // block sizes: wider than the matrix (one block), and 5 (blocks straddle groups)
                                for (int blockSize : new int[] {128, 5}) {
                                    cases.add(Arguments.of(shape[0], shape[1], new QuantSpec(bits, groupSize, scheme),
                                            cherries, actOrder, blockSize, false, ++seed));
                                }
                            }
                        }
                    }
                }
            }
        }
        // scales rounded to f16 as the packed export stores them
        for (QuantScheme scheme : QuantScheme.values()) {
            for (int bits : new int[] {2, 3, 4}) {
                cases.add(Arguments.of(16, 64, new QuantSpec(bits, 16, scheme), true, false, 5, true, ++seed));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}x{1} {2} cherries={3} actOrder={4} block={5} f16Scales={6}")
    @MethodSource("cases")
    void shouldMatchTheNaiveColumnByColumnReference(int rows, int columns, QuantSpec spec, boolean withCherries,
            boolean actOrder, int blockSize, boolean halfPrecisionScales, long seed) {
        Problem problem = Problem.random(rows, columns, withCherries, seed % 3 == 0, seed);
        GptqSettings settings = new GptqSettings(0.01, blockSize, actOrder, halfPrecisionScales);
        GptqSolver.Solution solution = GptqSolver.quantize(problem.weights(), rows, columns, problem.hessian(), spec,
                problem.cherries(), settings);
        NaiveGptq.Output expected = NaiveGptq.run(problem.weights(), rows, columns, problem.hessian(), spec,
                problem.cherries(), 0.01, actOrder, halfPrecisionScales);
        for (int i = 0; i < expected.dequantized().length; i++) {
            double tolerance = RELATIVE * Math.abs(expected.dequantized()[i]) + 1e-9;
            assertEquals(expected.dequantized()[i], solution.dequantized()[i], tolerance, "dequantized[" + i + "]");
        }
        // fixed point: RTN of the latent weights, with the same cherry mask, gives the reference's codes exactly
        QuantizedMatrix rounded = GroupQuantizer.quantize(solution.latent(), rows, columns, spec, problem.cherries(),
                halfPrecisionScales);
        for (int i = 0; i < expected.codes().length; i++) {
            if (expected.codes()[i] >= 0) {
                assertEquals(expected.codes()[i], rounded.codes()[i], "RTN code of latent[" + i + "]");
            } else {
                assertEquals(expected.dequantized()[i], solution.latent()[i], tolerance(expected.dequantized()[i]),
                        "cherry latent[" + i + "] keeps its full-precision value");
            }
        }
        // the reported errors equal tr(E H E^T) = 2/n ||E X^T||^2 recomputed from the inputs
        assertEquals(errorFromInputs(problem, solution.dequantized()), solution.gptqError(),
                1e-6 * solution.gptqError() + 1e-12, "GPTQ error");
        float[] rtn = rtnWithCherries(problem, spec, halfPrecisionScales);
        assertEquals(errorFromInputs(problem, rtn), solution.rtnError(), 1e-6 * solution.rtnError() + 1e-12, "RTN error");
        // GPTQ's error is below RTN's on these strongly correlated inputs
        assertTrue(solution.gptqError() < solution.rtnError(),
                "GPTQ " + solution.gptqError() + " should be below RTN " + solution.rtnError());
    }

    @Test
    void shouldKeepSymFullCodesWhenTheExportRoundsF32GptqScalesToHalfPrecision() {
        // the packed export rounds each scale to f16 (relative change <= 2^-11): a level (k + 1/2) s moves by at most
        // |k + 1/2| 2^-11 <= 1/16 of a bin for b <= 8, and the pinned absmax still lands on the extreme code
        int mismatchesAsym = 0;
        int asymCodes = 0;
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (QuantScheme scheme : QuantScheme.values()) {
                QuantSpec spec = new QuantSpec(bits, 16, scheme);
                Problem problem = Problem.random(16, 64, true, false, 100 + bits);
                GptqSolver.Solution solution = GptqSolver.quantize(problem.weights(), 16, 64, problem.hessian(), spec,
                        problem.cherries(), GptqSettings.DEFAULTS);
                QuantizedMatrix f16 = GroupQuantizer.quantize(solution.latent(), 16, 64, spec, problem.cherries(), true);
                for (int i = 0; i < f16.codes().length; i++) {
                    if (problem.cherries()[i]) {
                        continue;
                    }
                    if (scheme == QuantScheme.SYM_FULL) {
                        assertEquals(solution.quantized().codes()[i], f16.codes()[i], bits + "-bit code " + i);
                    } else {
                        asymCodes++;
                        mismatchesAsym += solution.quantized().codes()[i] == f16.codes()[i] ? 0 : 1;
                    }
                }
            }
        }
        // asym's zero point round(-min / s) can move with an f16 scale, and sym's -absmax sits on a tie between its
        // two lowest codes (-absmax / s = 1/2 - 2^(b-1); both levels are s/2 away): measured, not asserted; with
        // halfPrecisionScales GPTQ computes the export's scales itself (the f16 cases of the naive comparison)
        System.out.printf("asym and sym codes that differ under f16 scales: %d of %d%n", mismatchesAsym, asymCodes);
    }

    @Test
    void shouldEqualRtnExactlyWhenTheHessianIsTheIdentity() {
        // H = I: the inverse is diagonal, so no column's error reaches another column and each rounding is RTN's
        for (QuantScheme scheme : QuantScheme.values()) {
            for (int groupSize : new int[] {8, QuantSpec.WHOLE_ROW}) {
                for (boolean actOrder : new boolean[] {false, true}) {
                    Problem problem = Problem.random(16, 64, true, false, 7);
                    double[] identity = new double[64 * 64];
                    for (int i = 0; i < 64; i++) {
                        identity[i * 64 + i] = 1;
                    }
                    QuantSpec spec = new QuantSpec(3, groupSize, scheme);
                    GptqSolver.Solution solution = GptqSolver.quantize(problem.weights(), 16, 64, identity, spec,
                            problem.cherries(), new GptqSettings(0.01, 16, actOrder));
                    assertArrayEquals(rtnWithCherries(problem, spec, false), solution.dequantized(),
                            scheme + " g" + groupSize);
                    assertEquals(solution.rtnError(), solution.gptqError(), 1e-9 * solution.rtnError());
                }
            }
        }
    }

    @Test
    void shouldZeroDeadInputsAndCountThem() {
        Problem problem = Problem.random(8, 32, false, true, 11);
        GptqSolver.Solution solution = GptqSolver.quantize(problem.weights(), 8, 32, problem.hessian(),
                new QuantSpec(3, 8, QuantScheme.ASYM), null, GptqSettings.DEFAULTS);
        assertEquals(1, solution.deadColumns());
        for (int r = 0; r < 8; r++) {
            assertEquals(0f, solution.dequantized()[r * 32 + 5], solution.quantized().scales()[r * 4] / 2 + 1e-7,
                    "a dead column is quantized from zero");
        }
    }

    @Test
    void shouldNameTheFieldWhenSettingsAreInvalid() {
        assertTrue(assertThrows(InvalidInputException.class, () -> new GptqSettings(1.5, 128, false)).getMessage()
                .startsWith("gptq_dampening: 1.5 must be in (0, 1)"));
        assertTrue(assertThrows(InvalidInputException.class, () -> new GptqSettings(0, 128, false)).getMessage()
                .startsWith("gptq_dampening: 0.0"));
        assertTrue(assertThrows(InvalidInputException.class, () -> new GptqSettings(0.01, 0, false)).getMessage()
                .startsWith("gptq_block_size: 0 must be at least 1"));
    }

    private static double tolerance(double expected) {
        return RELATIVE * Math.abs(expected) + 1e-9;
    }

    /** RTN with cherries excluded from the statistics and kept at their values. */
    private static float[] rtnWithCherries(Problem problem, QuantSpec spec, boolean halfPrecisionScales) {
        float[] rtn = GroupQuantizer.quantize(problem.weights(), problem.rows(), problem.columns(), spec,
                problem.cherries(), halfPrecisionScales).dequantize();
        for (int i = 0; i < rtn.length; i++) {
            if (problem.cherries() != null && problem.cherries()[i]) {
                rtn[i] = problem.weights()[i];
            }
        }
        return rtn;
    }

    /** 2/n * sum over tokens and rows of ((W - Q) x)^2, straight from the inputs. */
    private static double errorFromInputs(Problem problem, float[] quantized) {
        int columns = problem.columns();
        double total = 0;
        for (int t = 0; t < problem.tokens(); t++) {
            for (int r = 0; r < problem.rows(); r++) {
                double dot = 0;
                for (int c = 0; c < columns; c++) {
                    double error = (double) problem.weights()[r * columns + c] - quantized[r * columns + c];
                    dot += error * problem.inputs()[t * columns + c];
                }
                total += dot * dot;
            }
        }
        return 2.0 * total / problem.tokens();
    }
}
