package dev.cherryq.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW on NDArrays against the algorithm written out in plain Java, on a loss with an analytic gradient. */
class AdamWTest {

    @Test
    void shouldMatchPlainJavaAdamWWithDecoupledWeightDecay() {
        float[] start = {0.5f, -1.5f, 2.0f, 0.0f};
        float[] target = {1.0f, 1.0f, -1.0f, 0.25f};
        float lr = 0.05f;
        float beta1 = 0.9f;
        float beta2 = 0.95f;
        float eps = 1e-8f;
        float wd = 0.1f;
        // plain Java: loss = sum((w - t)^2), gradient 2 (w - t)
        double[] w = new double[start.length];
        double[] m = new double[start.length];
        double[] v = new double[start.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = start[i];
        }
        for (int step = 1; step <= 6; step++) {
            for (int i = 0; i < w.length; i++) {
                double g = 2 * (w[i] - target[i]);
                m[i] = beta1 * m[i] + (1 - beta1) * g;
                v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                double mHat = m[i] / (1 - Math.pow(beta1, step));
                double vHat = v[i] / (1 - Math.pow(beta2, step));
                w[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + wd * w[i]);
            }
        }
        try (NDManager manager = DjlRuntime.newManager(); AdamW adam = new AdamW(manager, beta1, beta2, eps, wd)) {
            NDArray weights = manager.create(start);
            weights.setRequiresGradient(true);
            NDArray targets = manager.create(target);
            for (int step = 0; step < 6; step++) {
                try (NDManager scope = manager.newSubManager()) {
                    weights.tempAttach(scope);
                    try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                        collector.backward(weights.sub(targets).square().sum());
                    }
                }
                adam.step(Map.of("w", weights), lr);
                NDArray gradient = weights.getGradient();
                gradient.subi(gradient);
                gradient.close();
            }
            float[] actual = weights.toFloatArray();
            for (int i = 0; i < w.length; i++) {
                assertEquals(w[i], actual[i], 1e-5, "weight " + i);
            }
            assertEquals(6, adam.steps());
        }
    }

    @Test
    void shouldWarmUpLinearlyThenDecayByHalfCosineToTheFloor() {
        CosineSchedule schedule = new CosineSchedule(1.0f, 0.05, 0.25, 200);
        assertEquals(0.1f, schedule.at(0), 1e-6, "warm-up of 10 steps starts at peak/10");
        assertEquals(1.0f, schedule.at(9), 1e-6, "peak at the end of warm-up");
        assertEquals(1.0f, schedule.at(10), 1e-6, "cosine starts at the peak");
        assertEquals(0.25f, schedule.at(199), 1e-6, "floor at the last step");
        assertEquals(0.625f, schedule.at(10 + 189 / 2), 0.01, "halfway between peak and floor at mid-decay");
        for (int step = 11; step < 200; step++) {
            assertEquals(true, schedule.at(step) <= schedule.at(step - 1), "monotone after warm-up");
        }
    }
}
