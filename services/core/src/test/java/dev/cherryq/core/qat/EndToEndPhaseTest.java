package dev.cherryq.core.qat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The end-to-end phase after block-wise training against independent references: its depth-streamed gradients of
 * the cherries and norms against whole-model autograd of the same quantized forward (written here: the cherry
 * positions of each linear weight, not a compact vector, require the gradient); the frozen tensors bit for bit after
 * training; and its guarantee on held-out windows (lower than its start, or its start itself).
 */
class EndToEndPhaseTest {

    private static final QuantSpec SPEC = new QuantSpec(3, 16, QuantScheme.SYM_FULL);

    private static LlamaCheckpoint checkpoint(LlamaConfig config, long seed) {
        return new LlamaCheckpoint(null, "memory", config, RandomLlama.tensors(config, RandomLlama.weights(config,
                seed)));
    }

    private static CherrySet randomCherries(LlamaConfig config, double fraction) {
        return CherrySelector.select(SelectionCriterion.RANDOM, fraction, Map.of(),
                LlamaTensorNames.linearWeightShapes(config), 4);
    }

    private static QatSettings settings(int steps, float learningRate, int length) {
        return new QatSettings(steps, 2, length, 1, learningRate, 0.05, 0.25, 0f, 1f, 5, 0);
    }

    /**
     * Whole-model autograd of the mean loss over the windows: each linear weight computes as
     * {@code q(w) (1 - M) + w M}, w requiring the gradient, so that w's gradient at the mask is the cherries'.
     */
    private static Map<String, float[]> wholeModelGradients(LlamaCheckpoint checkpoint, CherrySet cherries,
            int[] tokens, int[] starts, int length, EndToEndPhase.Teacher teacher) {
        LlamaConfig config = checkpoint.config();
        try (LlamaModel model = LlamaModel.load(checkpoint); NDManager manager = DjlRuntime.newManager()) {
            Map<String, NDArray> masks = new LinkedHashMap<>();
            cherries.layers().forEach((name, layer) -> {
                boolean[] mask = layer.mask();
                float[] values = new float[mask.length];
                for (int i = 0; i < mask.length; i++) {
                    values[i] = mask[i] ? 1 : 0;
                }
                masks.put(name, NativeArrays.of(manager, values, new ai.djl.ndarray.types.Shape(layer.rows(),
                        layer.columnsInMatrix())));
            });
            FakeQuantizer quantizer = new FakeQuantizer(SPEC);
            Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(config));
            model.setLinearWeightTransform((name, weight) -> {
                if (!linear.contains(name)) {
                    return weight;
                }
                NDArray mask = QatTrainer.inStepOf(masks.get(name), weight);
                NDArray quantized = quantizer.dequantizedNormal(weight.stopGradient(), mask);
                return quantized.mul(mask.neg().add(1)).add(weight.mul(mask));
            });
            model.attachGradients();
            long[] ids = new long[starts.length * length];
            for (int row = 0; row < starts.length; row++) {
                for (int i = 0; i < length; i++) {
                    ids[row * length + i] = tokens[starts[row] + i];
                }
            }
            try (NDManager step = model.newStep()) {
                masks.values().forEach(mask -> mask.tempAttach(step));
                NDArray tokenIds = model.tokenArray(step, ids, starts.length, length);
                NDArray target = null;
                if (teacher != null) {
                    float[] hidden = teacher.lastHidden().windows(0, starts.length);
                    try (NDManager teacherStep = teacher.head().newStep()) {
                        target = LlamaModel.nextTokenLogProbabilities(teacher.head().logits(teacherStep,
                                NativeArrays.of(teacherStep, hidden, new ai.djl.ndarray.types.Shape(starts.length,
                                        length, config.hiddenSize()))));
                        target.attach(step);
                    }
                }
                try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                    NDArray logits = model.forward(step, tokenIds);
                    NDArray loss = target == null ? LlamaModel.nextTokenNll(logits, tokenIds).mean()
                            : Distillation.klDivergence(LlamaModel.nextTokenLogProbabilities(logits), target);
                    collector.backward(loss);
                }
            }
            Map<String, float[]> gradients = new LinkedHashMap<>();
            model.parameters().forEach((name, parameter) -> {
                float[] gradient = parameter.getGradient().toFloatArray();
                if (name.endsWith("norm.weight")) {
                    gradients.put(name, gradient);
                }
                CherrySet.Layer layer = cherries.layers().get(name);
                if (layer != null && layer.perRow() > 0) {
                    boolean[] mask = layer.mask();
                    float[] compact = new float[layer.rows() * layer.perRow()];
                    int next = 0;
                    for (int i = 0; i < mask.length; i++) {
                        if (mask[i]) {
                            compact[next++] = gradient[i];
                        }
                    }
                    gradients.put(EndToEndPhase.cherriesOf(name), compact);
                }
            });
            return gradients;
        }
    }

    /** Every tensor present, each within 1e-4 of its reference's largest entry and with some gradient. */
    private static void assertSameGradients(Map<String, float[]> expected, Map<String, float[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        dev.cherryq.core.scoring.FisherAssertions.assertSameSums(expected, actual);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny-tied", "qwen3"})
    void shouldEqualWholeModelGradientsOfCherriesAndNorms(String which) {
        LlamaConfig config = which.equals("qwen3") ? RandomLlama.family("qwen3")
                : RandomLlama.tinyConfig(which.equals("tiny-tied"));
        LlamaCheckpoint checkpoint = checkpoint(config, 21);
        CherrySet cherries = randomCherries(config, 1.0 / 8);
        int length = 12;
        int[] tokens = new Random(5).ints(400, 0, config.vocabSize()).toArray();
        int[] starts = {3, 100, 250};
        Map<String, float[]> expected = wholeModelGradients(checkpoint, cherries, tokens, starts, length, null);
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            assertSameGradients(expected, EndToEndPhase.gradients(model, SPEC, cherries, tokens, starts, length,
                    null));
        }
    }

    @Test
    void shouldEqualWholeModelGradientsUnderDistillation() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        LlamaCheckpoint checkpoint = checkpoint(config, 22);
        CherrySet cherries = randomCherries(config, 1.0 / 8);
        int length = 12;
        int[] tokens = new Random(6).ints(400, 0, config.vocabSize()).toArray();
        int[] starts = {0, 77, 301};
        float[] hidden = new float[starts.length * length * config.hiddenSize()];
        Random random = new Random(7);
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] = (float) random.nextGaussian();
        }
        // the teacher's head: another model's final norm and head, on hidden states of its own
        try (LlamaModel teacherHead = LlamaModel.loadWithoutBlocks(checkpoint(config, 23))) {
            EndToEndPhase.Teacher teacher = new EndToEndPhase.Teacher(teacherHead,
                    BlockActivations.Depth.held(hidden, starts.length, length, config.hiddenSize()));
            Map<String, float[]> expected = wholeModelGradients(checkpoint, cherries, tokens, starts, length,
                    teacher);
            try (LlamaModel model = LlamaModel.load(checkpoint)) {
                assertSameGradients(expected, EndToEndPhase.gradients(model, SPEC, cherries, tokens, starts, length,
                        teacher));
            }
        }
    }

    @Test
    void shouldKeepEveryFrozenWeightBitForBit() {
        LlamaConfig config = RandomLlama.family("qwen2.5"); // with q/k/v biases, which stay frozen too
        LlamaCheckpoint checkpoint = checkpoint(config, 31);
        CherrySet cherries = randomCherries(config, 1.0 / 8);
        int length = 12;
        int[] tokens = new Random(8).ints(600, 0, config.vocabSize()).toArray();
        int[] starts = {0, 50, 120, 300, 410, 520};
        Map<String, float[]> before = new LinkedHashMap<>();
        Map<String, float[]> after = new LinkedHashMap<>();
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            model.parameters().forEach((name, parameter) -> before.put(name, parameter.toFloatArray()));
            EndToEndPhase.train(model, SPEC, cherries, tokens, starts, null, null, settings(6, 1e-2f, length),
                    Progress.NONE);
            model.parameters().forEach((name, parameter) -> after.put(name, parameter.toFloatArray()));
        }
        int changedCherries = 0;
        int changedNorms = 0;
        for (String name : before.keySet()) {
            float[] start = before.get(name);
            float[] end = after.get(name);
            CherrySet.Layer layer = cherries.layers().get(name);
            boolean[] mask = layer == null ? new boolean[start.length] : layer.mask();
            for (int i = 0; i < start.length; i++) {
                boolean trained = mask[i] || name.endsWith("norm.weight");
                if (!trained) {
                    assertEquals(Float.floatToRawIntBits(start[i]), Float.floatToRawIntBits(end[i]),
                            name + "[" + i + "] is frozen");
                } else if (start[i] != end[i]) {
                    if (mask[i]) {
                        changedCherries++;
                    } else {
                        changedNorms++;
                    }
                }
            }
        }
        assertTrue(changedCherries > 0, "cherries trained");
        assertTrue(changedNorms > 0, "norms trained");
    }

    @Test
    void shouldLowerHeldOutLossOrReturnItsStart() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        LlamaCheckpoint checkpoint = checkpoint(config, 41);
        CherrySet cherries = randomCherries(config, 1.0 / 8);
        int length = 16;
        // a text with structure to learn: a short cycle of tokens with rare noise
        Random random = new Random(9);
        int[] tokens = new int[1200];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(10) == 0 ? random.nextInt(config.vocabSize()) : (i * 7) % 13;
        }
        int[] starts = new int[40];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = random.nextInt(900 - length);
        }
        TokenWindows heldOut = new TokenWindows(java.util.Arrays.copyOfRange(tokens, 900, 1200), length);
        QatTrainer.Validation validation = new QatTrainer.Validation(heldOut, 5, 4);
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            EndToEndPhase.Result result = EndToEndPhase.train(model, SPEC, cherries, tokens, starts, null, validation,
                    settings(20, 1e-2f, length), Progress.NONE);
            double start = result.validation().get(0).meanNll();
            double best = result.validation().stream().mapToDouble(QatTrainer.ValidationPoint::meanNll).min()
                    .orElseThrow();
            assertEquals(0, result.validation().get(0).step());
            assertTrue(result.bestStep() > 0 && best < start, "the phase lowered the held-out loss: " + result
                    .validation());
            // the model holds the best weights: scored again, by the trainer's own quantized forward
            assertEquals(best, QatTrainer.scoreQuantized(model, SPEC, cherries, validation), 1e-4);
        }
        // a rate that only makes things worse: the phase returns its start, bit for bit
        Map<String, float[]> before = new LinkedHashMap<>();
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            model.parameters().forEach((name, parameter) -> before.put(name, parameter.toFloatArray()));
            EndToEndPhase.Result result = EndToEndPhase.train(model, SPEC, cherries, tokens, starts, null, validation,
                    settings(10, 50f, length), Progress.NONE);
            if (result.bestStep() == 0) {
                model.parameters().forEach((name, parameter) -> assertTrue(java.util.Arrays.equals(before.get(name),
                        parameter.toFloatArray()), name + " is back at its start"));
            } else {
                assertTrue(result.validation().get(0).meanNll() > result.validation().stream()
                        .mapToDouble(QatTrainer.ValidationPoint::meanNll).min().orElseThrow());
            }
        }
    }
}
