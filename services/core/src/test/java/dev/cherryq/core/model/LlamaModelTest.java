package dev.cherryq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.TestFixtures;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The DJL forward against the plain-Java {@link ReferenceLlama}: 1e-4 relative on logits. */
class LlamaModelTest {

    private static final double LOGIT_TOLERANCE = 1e-4;

    @Test
    void shouldMatchReferenceLogitsOnRandomGqaModelWithUntiedHead() {
        checkAgainstReference(RandomLlama.tinyConfig(false), 7);
    }

    @Test
    void shouldMatchReferenceLogitsOnRandomModelWithTiedHead() {
        checkAgainstReference(RandomLlama.tinyConfig(true), 11);
    }

    private static void checkAgainstReference(LlamaConfig config, long seed) {
        Map<String, float[]> weights = RandomLlama.weights(config, seed);
        int[] tokens = new Random(seed).ints(2 * 19, 0, config.vocabSize()).toArray();
        ReferenceLlama reference = new ReferenceLlama(config, weights, ReferenceLlama.RopeLayout.HALVES);
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, weights));
                NDManager step = model.newStep()) {
            NDArray logits = model.forward(step, model.tokenArray(step, toLongs(tokens), 2, 19));
            float[] actual = logits.toFloatArray();
            for (int b = 0; b < 2; b++) {
                int[] sequence = java.util.Arrays.copyOfRange(tokens, b * 19, b * 19 + 19);
                assertLogitsClose(reference.logits(sequence), actual, b * 19 * config.vocabSize());
            }
        }
    }

    @Test
    void shouldMatchLlama2cInterleavedReferenceOnRealCheckpoint() {
        Llama2cCheckpoint checkpoint = Llama2cCheckpoint.read(TestFixtures.stories260k());
        LlamaConfig config = checkpoint.config();
        // the raw llama2.c weights with interleaved RoPE, as run.c computes them: independent of our q/k permutation
        Map<String, float[]> raw = RawLlama2cWeights.asHfNamesWithoutPermutation(checkpoint);
        ReferenceLlama runC = new ReferenceLlama(config, raw, ReferenceLlama.RopeLayout.INTERLEAVED);
        int[] tokens = new Random(3).ints(48, 0, config.vocabSize()).toArray();
        tokens[0] = 1;
        try (LlamaModel model = LlamaModel.fromTensors(config, checkpoint.toHfTensors(TestFixtures.stories260k()));
                NDManager step = model.newStep()) {
            float[] actual = model.forward(step, model.tokenArray(step, toLongs(tokens), 1, tokens.length)).toFloatArray();
            assertLogitsClose(runC.logits(tokens), actual, 0);
        }
    }

    // a garbage collection between forward and backward (as a busy JVM has) must not change the gradients: DJL's
    // scalar operands used to live in memory the collector frees, and backward read it (see Scalars)
    @Test
    void shouldBackpropagateGradientsThatMatchFiniteDifferencesOfTheReference() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = RandomLlama.weights(config, 13);
        int[] tokens = new Random(13).ints(12, 0, config.vocabSize()).toArray();
        String[] probed = {LlamaTensorNames.Projection.Q.tensorName(0), LlamaTensorNames.Projection.DOWN.tensorName(1),
                LlamaTensorNames.EMBED_TOKENS, LlamaTensorNames.mlpNorm(0), LlamaTensorNames.LM_HEAD};
        Map<String, float[]> gradients = new java.util.HashMap<>();
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, weights))) {
            model.attachGradients();
            try (NDManager step = model.newStep();
                    ai.djl.training.GradientCollector collector = ai.djl.engine.Engine.getEngine("PyTorch")
                            .newGradientCollector()) {
                NDArray meanNll = model.nextTokenNll(step, model.tokenArray(step, toLongs(tokens), 1, 12)).mean();
                TestFixtures.collectGarbage();
                collector.backward(meanNll);
                for (String name : probed) {
                    gradients.put(name, model.parameters().get(name).getGradient().toFloatArray());
                }
            }
        }
        ReferenceLlama reference = new ReferenceLlama(config, weights, ReferenceLlama.RopeLayout.HALVES);
        Random pick = new Random(2);
        for (String name : probed) {
            float[] values = weights.get(name);
            for (int trial = 0; trial < 4; trial++) {
                int index = name.equals(LlamaTensorNames.EMBED_TOKENS) ? tokens[trial] * config.hiddenSize() + trial
                        : pick.nextInt(values.length);
                float original = values[index];
                double h = 1e-3;
                values[index] = (float) (original + h);
                double plus = reference.meanNll(tokens);
                values[index] = (float) (original - h);
                double minus = reference.meanNll(tokens);
                values[index] = original;
                double numeric = (plus - minus) / (2 * h);
                double analytic = gradients.get(name)[index];
                assertTrue(Math.abs(analytic - numeric) <= 2e-3 * Math.max(1e-2, Math.abs(numeric)) + 2e-5,
                        name + "[" + index + "]: autograd " + analytic + " vs finite difference " + numeric);
            }
        }
    }

    @Test
    void shouldReleaseEveryIntermediateWhenTheStepCloses() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, RandomLlama.weights(config, 1)))) {
            long[] ids = toLongs(new Random(1).ints(16, 0, config.vocabSize()).toArray());
            for (int i = 0; i < 3; i++) {
                try (NDManager step = model.newStep()) {
                    model.nextTokenNll(step, model.tokenArray(step, ids, 1, 16));
                }
            }
            int before = model.parameters().values().iterator().next().getManager().getParentManager().getManagedArrays().size();
            for (int i = 0; i < 20; i++) {
                try (NDManager step = model.newStep()) {
                    model.nextTokenNll(step, model.tokenArray(step, ids, 1, 16));
                }
            }
            int after = model.parameters().values().iterator().next().getManager().getParentManager().getManagedArrays().size();
            assertEquals(before, after, "arrays held by the model's manager grew across steps");
        }
    }

    static void assertLogitsClose(double[][] expected, float[] actual, int offset) {
        double maxAbs = 0;
        double maxDiff = 0;
        int vocab = expected[0].length;
        for (int t = 0; t < expected.length; t++) {
            for (int v = 0; v < vocab; v++) {
                maxAbs = Math.max(maxAbs, Math.abs(expected[t][v]));
                maxDiff = Math.max(maxDiff, Math.abs(expected[t][v] - actual[offset + t * vocab + v]));
            }
        }
        assertTrue(maxDiff <= LOGIT_TOLERANCE * Math.max(1.0, maxAbs),
                "max |djl - reference| = " + maxDiff + " exceeds " + LOGIT_TOLERANCE + " x max|logit| " + maxAbs);
    }

    static long[] toLongs(int[] ints) {
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }
}
