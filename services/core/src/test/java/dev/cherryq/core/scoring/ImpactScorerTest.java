package dev.cherryq.core.scoring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImpactScorerTest {

    @TempDir
    Path dir;

    @Test
    void shouldEqualTheAnalyticSquaredGradientOnATinyLinearModel() {
        // y = W x, per-sample loss ||W x - t||^2, so dL/dW = 2 (W x - t) x^T and impact = mean over samples of its square
        int out = 3;
        int in = 4;
        int samples = 5;
        Random random = new Random(1);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        float[][] xs = new float[samples][in];
        float[][] ts = new float[samples][out];
        double[] expected = new double[out * in];
        for (int n = 0; n < samples; n++) {
            for (int j = 0; j < in; j++) {
                xs[n][j] = (float) random.nextGaussian();
            }
            for (int r = 0; r < out; r++) {
                ts[n][r] = (float) random.nextGaussian();
            }
            for (int r = 0; r < out; r++) {
                double residual = -ts[n][r];
                for (int j = 0; j < in; j++) {
                    residual += w[r * in + j] * xs[n][j];
                }
                for (int j = 0; j < in; j++) {
                    double gradient = 2 * residual * xs[n][j];
                    expected[r * in + j] += gradient * gradient / samples;
                }
            }
        }
        try (NDManager manager = DjlRuntime.newManager(); FisherAccumulator accumulator = new FisherAccumulator(manager)) {
            NDArray weight = manager.create(w, new Shape(out, in));
            weight.setRequiresGradient(true);
            for (int n = 0; n < samples; n++) {
                try (NDManager scope = manager.newSubManager()) {
                    weight.tempAttach(scope);
                    try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                        NDArray x = scope.create(xs[n], new Shape(in, 1));
                        NDArray t = scope.create(ts[n], new Shape(out, 1));
                        collector.backward(weight.matMul(x).sub(t).square().sum());
                    }
                }
                accumulator.addSquaredGradients(Map.of("w", weight));
                NDArray gradient = weight.getGradient();
                gradient.subi(gradient);
                gradient.close();
            }
            float[] sums = accumulator.sums().get("w");
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], sums[i] / samples, 1e-5 * Math.max(1, expected[i]), "impact " + i);
            }
        }
    }

    @Test
    void shouldMergeTwoHalvesIntoTheWholeAndRefuseDoubleCounting() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        int[] tokens = new Random(2).ints(500, 0, config.vocabSize()).toArray();
        CalibrationSamples samples = new CalibrationSamples(tokens, 8, 24, 7);
        FisherPartial whole;
        FisherPartial first;
        FisherPartial second;
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, RandomLlama.weights(config, 2)))) {
            whole = ImpactScorer.score(model, samples, 0, 8, Progress.NONE);
            first = ImpactScorer.score(model, samples, 0, 3, Progress.NONE);
            second = ImpactScorer.score(model, samples, 3, 8, Progress.NONE);
        }
        // written and read back, as a fleet worker would hand it over
        Path file = dir.resolve("second.safetensors");
        second.write(file);
        FisherPartial secondRead = FisherPartial.read(file);
        assertEquals(second.samples(), secondRead.samples());
        FisherPartial merged = secondRead.merge(first);
        assertEquals(8, merged.sampleCount());
        assertEquals(LlamaTensorNames.linearWeights(config).size(), merged.sums().size());
        for (String name : whole.sums().keySet()) {
            float[] expected = whole.impacts().get(name);
            float[] actual = merged.impacts().get(name);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-5f * Math.abs(expected[i]) + 1e-12f, name + "[" + i + "]");
            }
        }
        InvalidInputException overlap = assertThrows(InvalidInputException.class, () -> merged.merge(first));
        assertTrue(overlap.getMessage().contains("samples {0, 1, 2} are in both"), overlap.getMessage());
        CalibrationSamples otherSeed = new CalibrationSamples(tokens, 8, 24, 8);
        FisherPartial foreign;
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, RandomLlama.weights(config, 2)))) {
            foreign = ImpactScorer.score(model, otherSeed, 0, 1, Progress.NONE);
        }
        assertTrue(assertThrows(InvalidInputException.class, () -> first.merge(foreign)).getMessage()
                .contains("different runs"));
        assertArrayEquals(new long[] {config.queryDim(), config.hiddenSize()},
                merged.shapes().get(LlamaTensorNames.Projection.Q.tensorName(0)));
    }

    @Test
    void shouldSayHowMuchCalibrationTextIsNeeded() {
        InvalidInputException error = assertThrows(InvalidInputException.class,
                () -> new CalibrationSamples(new int[100], 4, 256, 1));
        assertTrue(error.getMessage().contains("100 tokens") && error.getMessage().contains("at least 256 tokens"),
                error.getMessage());
    }
}
