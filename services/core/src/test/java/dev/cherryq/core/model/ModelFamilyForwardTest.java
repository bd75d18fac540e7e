package dev.cherryq.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.TestFixtures;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DJL forward of every family (random models on the hand-written configs of test resources families/) against
 * the plain-Java {@link ReferenceLlama}, which writes the families' differences again as loops: logits at every
 * position to 1e-4 of the largest logit, and gradients of a bias and of a q/k norm weight against finite
 * differences of the reference. Mistral's window and Llama-3's frequency scaling must each change the logits, so
 * that agreeing with the reference says something about them.
 */
class ModelFamilyForwardTest {

    private static final double LOGIT_TOLERANCE = 1e-4;
    private static final int SEQ = 24; // longer than Mistral's window of 8

    @ParameterizedTest
    @ValueSource(strings = {"llama-3.2", "mistral", "qwen2.5", "qwen3"})
    void shouldMatchTheReferenceAtEveryPosition(String family) {
        LlamaConfig config = RandomLlama.family(family);
        Map<String, float[]> weights = RandomLlama.weights(config, 21);
        int[] tokens = new Random(21).ints(2 * SEQ, 0, config.vocabSize()).toArray();
        float[] logits = djlLogits(config, weights, tokens, 2);
        ReferenceLlama reference = new ReferenceLlama(config, weights, ReferenceLlama.RopeLayout.HALVES);
        double worst = 0;
        for (int b = 0; b < 2; b++) {
            double[][] expected = reference.logits(Arrays.copyOfRange(tokens, b * SEQ, (b + 1) * SEQ));
            worst = Math.max(worst, assertLogitsClose(expected, logits, b * SEQ * config.vocabSize(), family));
        }
        System.out.printf("%s: max |djl - reference| over %d positions x 2 sequences = %.3g%n", family, SEQ, worst);
    }

    @Test
    void shouldHaveTheFamiliesTraitsInTheTestConfigs() {
        // the forward test above covers these paths only if the configs have them
        assertTrue(RandomLlama.family("llama-3.2").family().ropeScaling() != null);
        assertTrue(RandomLlama.family("llama-3.2").tieWordEmbeddings());
        assertEquals(8, RandomLlama.family("mistral").family().slidingWindow());
        assertTrue(RandomLlama.family("qwen2.5").family().queryKeyValueBiases());
        LlamaConfig qwen3 = RandomLlama.family("qwen3");
        assertTrue(qwen3.family().queryKeyNorms());
        assertTrue(qwen3.headDim() != qwen3.hiddenSize() / qwen3.numberOfHeads(), "head_dim differs from hidden/heads");
        for (String family : RandomLlama.FAMILIES) {
            LlamaConfig config = RandomLlama.family(family);
            assertTrue(config.numberOfKeyValueHeads() < config.numberOfHeads() && config.numberOfLayers() >= 3, family);
        }
    }

    @Test
    void shouldLimitMistralAttentionToTheWindowAndMatchTheReferenceWithAndWithout() {
        LlamaConfig windowed = RandomLlama.family("mistral");
        int window = windowed.family().slidingWindow();
        LlamaConfig full = windowed.withFamily(windowed.family().withSlidingWindow(0));
        Map<String, float[]> weights = RandomLlama.weights(windowed, 5);
        int[] tokens = new Random(5).ints(SEQ, 0, windowed.vocabSize()).toArray();
        float[] withWindow = djlLogits(windowed, weights, tokens, 1);
        float[] without = djlLogits(full, weights, tokens, 1);
        int vocab = windowed.vocabSize();
        for (int t = 0; t < SEQ; t++) {
            double difference = 0;
            for (int v = 0; v < vocab; v++) {
                difference = Math.max(difference, Math.abs(withWindow[t * vocab + v] - without[t * vocab + v]));
            }
            if (t < window) {
                // every key a query at t < W could see is inside its window
                assertTrue(difference <= 1e-5, "position " + t + " inside the window differs by " + difference);
            } else {
                assertTrue(difference > 1e-3, "position " + t + " beyond the window differs only by " + difference);
            }
        }
        assertLogitsClose(new ReferenceLlama(windowed, weights, ReferenceLlama.RopeLayout.HALVES).logits(tokens),
                withWindow, 0, "mistral windowed");
        assertLogitsClose(new ReferenceLlama(full, weights, ReferenceLlama.RopeLayout.HALVES).logits(tokens),
                without, 0, "mistral without window");
    }

    @Test
    void shouldChangeTheLogitsWithLlama3RopeScaling() {
        LlamaConfig scaled = RandomLlama.family("llama-3.2");
        LlamaConfig plain = scaled.withFamily(ModelFamily.LLAMA_2);
        Map<String, float[]> weights = RandomLlama.weights(scaled, 9);
        int[] tokens = new Random(9).ints(SEQ, 0, scaled.vocabSize()).toArray();
        float[] withScaling = djlLogits(scaled, weights, tokens, 1);
        float[] withoutScaling = djlLogits(plain, weights, tokens, 1);
        double difference = 0;
        for (int i = 0; i < withScaling.length; i++) {
            difference = Math.max(difference, Math.abs(withScaling[i] - withoutScaling[i]));
        }
        assertTrue(difference > 1e-2, "rope scaling changed the logits by only " + difference);
        // position 0 has no rotation: the same with and without
        for (int v = 0; v < scaled.vocabSize(); v++) {
            assertEquals(withoutScaling[v], withScaling[v], 1e-5);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2.5", "qwen3"})
    void shouldBackpropagateToBiasesAndQkNormsLikeFiniteDifferencesOfTheReference(String family) {
        LlamaConfig config = RandomLlama.family(family);
        Map<String, float[]> weights = RandomLlama.weights(config, 17);
        int[] tokens = new Random(17).ints(12, 0, config.vocabSize()).toArray();
        List<String> probed = config.family().queryKeyValueBiases()
                ? List.of(LlamaTensorNames.Projection.Q.biasName(0), LlamaTensorNames.Projection.K.biasName(1),
                        LlamaTensorNames.Projection.V.biasName(2))
                : List.of(LlamaTensorNames.queryNorm(0), LlamaTensorNames.keyNorm(1), LlamaTensorNames.queryNorm(2));
        Map<String, float[]> gradients = new HashMap<>();
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
        Random pick = new Random(4);
        double worst = 0;
        for (String name : probed) {
            float[] values = weights.get(name);
            for (int trial = 0; trial < 3; trial++) {
                int index = pick.nextInt(values.length);
                float original = values[index];
                double h = 1e-3;
                values[index] = (float) (original + h);
                double plus = reference.meanNll(tokens);
                values[index] = (float) (original - h);
                double minus = reference.meanNll(tokens);
                values[index] = original;
                double numeric = (plus - minus) / (2 * h);
                double analytic = gradients.get(name)[index];
                worst = Math.max(worst, Math.abs(analytic - numeric));
                assertTrue(Math.abs(analytic - numeric) <= 2e-3 * Math.max(1e-2, Math.abs(numeric)) + 2e-5,
                        name + "[" + index + "]: autograd " + analytic + " vs finite difference " + numeric);
            }
            assertTrue(Arrays.stream(toDoubles(gradients.get(name))).anyMatch(g -> Math.abs(g) > 1e-6),
                    name + " gets a gradient");
        }
        System.out.printf("%s: max |autograd - finite difference| on %s = %.3g%n", family, probed, worst);
    }

    // the linear-weight transform (fake quantization in QAT) sees the seven projections' weights and nothing else
    @ParameterizedTest
    @ValueSource(strings = {"qwen2.5", "qwen3"})
    void shouldPassOnlyTheSevenProjectionWeightsThroughTheLinearTransform(String family) {
        LlamaConfig config = RandomLlama.family(family);
        java.util.Set<String> seen = new java.util.LinkedHashSet<>();
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, RandomLlama.weights(config, 1)));
                NDManager step = model.newStep()) {
            model.setLinearWeightTransform((name, weight) -> {
                seen.add(name);
                return weight;
            });
            model.forward(step, model.tokenArray(step, new long[] {1, 2, 3, 4}, 1, 4));
        }
        assertEquals(new java.util.LinkedHashSet<>(LlamaTensorNames.linearWeights(config)), seen);
    }

    private static float[] djlLogits(LlamaConfig config, Map<String, float[]> weights, int[] tokens, int batch) {
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, weights));
                NDManager step = model.newStep()) {
            return model.forward(step, model.tokenArray(step, toLongs(tokens), batch, tokens.length / batch))
                    .toFloatArray();
        }
    }

    /** Asserts and returns max |expected - actual| over a sequence's logits. */
    private static double assertLogitsClose(double[][] expected, float[] actual, int offset, String what) {
        double maxAbs = 0;
        double maxDiff = 0;
        int vocab = expected[0].length;
        for (int t = 0; t < expected.length; t++) {
            for (int v = 0; v < vocab; v++) {
                maxAbs = Math.max(maxAbs, Math.abs(expected[t][v]));
                maxDiff = Math.max(maxDiff, Math.abs(expected[t][v] - actual[offset + t * vocab + v]));
            }
        }
        assertTrue(maxDiff <= LOGIT_TOLERANCE * Math.max(1.0, maxAbs), what + ": max |djl - reference| = " + maxDiff
                + " exceeds " + LOGIT_TOLERANCE + " x max|logit| " + maxAbs);
        return maxDiff;
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private static long[] toLongs(int[] ints) {
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }
}
