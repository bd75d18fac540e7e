package dev.cherryq.core.train;

import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.format.TensorInfo;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * GPT-2-style initialisation for pretraining from scratch (as llama2.c's model.py does): weights N(0, 0.02),
 * the residual output projections (o, down) N(0, 0.02 / sqrt(2 * layers)), RMSNorm weights 1, biases 0 (as HF's
 * _init_weights). Deterministic per seed.
 */
public final class LlamaInitializer {

    private LlamaInitializer() {}

    public static InMemoryTensors initialize(LlamaConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        InMemoryTensors tensors = new InMemoryTensors(Path.of("init-seed-" + seed));
        double residualStd = 0.02 / Math.sqrt(2.0 * config.numberOfLayers());
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            float[] values = new float[Math.toIntExact(TensorInfo.elementCount(tensor.shape()))];
            if (tensor.name().endsWith(".bias")) {
                java.util.Arrays.fill(values, 0f);
            } else if (tensor.shape().length == 1) {
                java.util.Arrays.fill(values, 1f); // RMSNorm weights, q/k norms included
            } else {
                boolean residual = tensor.name().endsWith("o_proj.weight") || tensor.name().endsWith("down_proj.weight");
                double std = residual ? residualStd : 0.02;
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (gaussian(random) * std);
                }
            }
            tensors.put(tensor.name(), tensor.shape(), values);
        }
        return tensors;
    }

    /** Box-Muller on a SplittableRandom (java.util.Random's nextGaussian is not available on it before Java 17). */
    private static double gaussian(SplittableRandom random) {
        double u = 1 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
