package dev.cherryq.core.qat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FakeQuantizerTest {

    private static final int ROWS = 6;
    private static final int COLUMNS = 45;

    private static float[] gaussian(long seed) {
        Random random = new Random(seed);
        float[] values = new float[ROWS * COLUMNS];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    private static boolean[] randomMask(long seed) {
        Random random = new Random(seed);
        boolean[] mask = new boolean[ROWS * COLUMNS];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = random.nextInt(10) == 0;
        }
        return mask;
    }

    private static float[] asFloats(boolean[] mask) {
        float[] out = new float[mask.length];
        for (int i = 0; i < mask.length; i++) {
            out[i] = mask[i] ? 1 : 0;
        }
        return out;
    }

    @Test
    void shouldComputeTheSameGridAsTheJavaQuantizerWithCherriesMaskedOut() {
        try (NDManager manager = DjlRuntime.newManager()) {
            for (QuantScheme scheme : QuantScheme.values()) {
                for (int bits = 2; bits <= 8; bits++) {
                    for (int groupSize : new int[] {-1, 8, 16, 45, 64}) {
                        long seed = bits * 100L + groupSize;
                        float[] weights = gaussian(seed);
                        boolean[] mask = randomMask(seed);
                        QuantSpec spec = new QuantSpec(bits, groupSize, scheme);
                        float[] expected = GroupQuantizer.quantize(weights, ROWS, COLUMNS, spec, mask).dequantize();
                        NDArray w = manager.create(weights, new Shape(ROWS, COLUMNS));
                        NDArray m = manager.create(asFloats(mask), new Shape(ROWS, COLUMNS));
                        float[] actual = new FakeQuantizer(spec).dequantizedNormal(w, m).toFloatArray();
                        for (int i = 0; i < expected.length; i++) {
                            assertEquals(expected[i], actual[i], 1e-6f * Math.max(1f, Math.abs(expected[i])),
                                    scheme + " " + bits + "-bit g" + groupSize + " at " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void shouldPassGradientsStraightThroughAndKeepCherriesExact() {
        float[] weights = gaussian(3);
        boolean[] mask = randomMask(3);
        float[] upstream = gaussian(4); // d loss / d output
        QuantSpec spec = new QuantSpec(3, 16, QuantScheme.SYM_FULL);
        float[] dequantized = GroupQuantizer.quantize(weights, ROWS, COLUMNS, spec, mask).dequantize();
        try (NDManager manager = DjlRuntime.newManager()) {
            NDArray w = manager.create(weights, new Shape(ROWS, COLUMNS));
            w.setRequiresGradient(true);
            NDArray m = manager.create(asFloats(mask), new Shape(ROWS, COLUMNS));
            NDArray output;
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                output = new FakeQuantizer(spec).apply(w, m);
                collector.backward(output.mul(manager.create(upstream, new Shape(ROWS, COLUMNS))).sum());
            }
            float[] forward = output.toFloatArray();
            float[] gradient = w.getGradient().toFloatArray();
            for (int i = 0; i < weights.length; i++) {
                // STE: d output / d w is the identity for normal weights; cherries are w itself, so exact
                assertEquals(upstream[i], gradient[i], 1e-6f, "gradient at " + i);
                assertEquals(mask[i] ? weights[i] : dequantized[i], forward[i], 1e-6f, "forward at " + i);
            }
        }
    }

    @Test
    void shouldNotMoveNormalWeightsWhenCherriesChange() {
        float[] weights = gaussian(9);
        boolean[] mask = randomMask(9);
        float[] perturbed = weights.clone();
        for (int i = 0; i < perturbed.length; i++) {
            if (mask[i]) {
                perturbed[i] *= 500;
            }
        }
        for (QuantScheme scheme : QuantScheme.values()) {
            FakeQuantizer quantizer = new FakeQuantizer(new QuantSpec(4, 16, scheme));
            try (NDManager manager = DjlRuntime.newManager()) {
                NDArray m = manager.create(asFloats(mask), new Shape(ROWS, COLUMNS));
                float[] before = quantizer.apply(manager.create(weights, new Shape(ROWS, COLUMNS)), m).toFloatArray();
                float[] after = quantizer.apply(manager.create(perturbed, new Shape(ROWS, COLUMNS)), m).toFloatArray();
                for (int i = 0; i < weights.length; i++) {
                    if (!mask[i]) {
                        assertEquals(before[i], after[i], 0f, scheme + ": normal weight " + i + " moved");
                    }
                }
            }
        }
    }

    @Test
    void shouldLeaveNothingInTheMasksManagerWhereverTheMaskLives() {
        try (NDManager run = DjlRuntime.newManager(); NDManager parameters = DjlRuntime.newManager()) {
            NDArray mask = run.zeros(new Shape(8, 40)).add(0); // the run's cherry mask (4 groups, one padded)
            NDArray weight = parameters.randomNormal(new Shape(8, 40));
            FakeQuantizer quantizer = new FakeQuantizer(new QuantSpec(3, 16, QuantScheme.ASYM));
            int before = run.getManagedArrays().size();
            // the mask left in the run's manager: what the quantizer computes from it is freed all the same
            try (NDManager step = parameters.newSubManager()) {
                weight.tempAttach(step);
                quantizer.apply(weight, mask);
            }
            assertEquals(before, run.getManagedArrays().size(), "the mask in the run's manager added none");
            // attached to the weight's step for the step, as the trainers do: nothing stays behind either
            try (NDManager step = parameters.newSubManager()) {
                weight.tempAttach(step);
                quantizer.apply(weight, QatTrainer.inStepOf(mask, weight));
            }
            assertEquals(before, run.getManagedArrays().size(), "the attached mask added none");
            assertEquals(run, mask.getManager(), "and the mask is back in the run's manager");
        }
    }

    /**
     * The step holds the fake-quantized weight and nothing else of the quantizer's: its statistics, codes and
     * differences, 14 arrays of the weight's size for sym-full and more for asym, were held until the step closed,
     * which at 60M parameters was most of the end-to-end trainer's peak (docs/SCALING.md).
     */
    @Test
    void shouldLeaveOnlyTheQuantizedWeightInTheStep() {
        for (QuantScheme scheme : QuantScheme.values()) {
            for (boolean withMask : new boolean[] {true, false}) {
                try (NDManager run = DjlRuntime.newManager(); NDManager parameters = DjlRuntime.newManager()) {
                    NDArray mask = withMask ? run.create(asFloats(randomMask(5)), new Shape(ROWS, COLUMNS)) : null;
                    NDArray weight = parameters.create(gaussian(5), new Shape(ROWS, COLUMNS)); // one group padded
                    weight.setRequiresGradient(true);
                    FakeQuantizer quantizer = new FakeQuantizer(new QuantSpec(3, 16, scheme));
                    try (NDManager step = parameters.newSubManager();
                            GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                        weight.tempAttach(step);
                        NDArray stepMask = QatTrainer.inStepOf(mask, weight); // joins the step, as in training
                        int before = step.getManagedArrays().size();
                        NDArray quantized = quantizer.apply(weight, stepMask);
                        assertEquals(before + 1, step.getManagedArrays().size(),
                                scheme + (withMask ? " with" : " without") + " a mask: the step holds the result only");
                        collector.backward(quantized.sum()); // and the gradient still flows: the identity
                        for (float gradient : weight.getGradient().toFloatArray()) {
                            assertEquals(1f, gradient, 0f, scheme + ": straight-through gradient");
                        }
                    }
                }
            }
        }
    }
}
