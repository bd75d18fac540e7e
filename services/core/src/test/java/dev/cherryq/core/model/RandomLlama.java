package dev.cherryq.core.model;

import dev.cherryq.core.format.InMemoryTensors;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Small random LLaMA checkpoints for tests that must run without ../shared. */
public final class RandomLlama {

    private RandomLlama() {}

    /** A GQA model with untied head and head_dim different from hidden/heads, to exercise every path. */
    public static LlamaConfig tinyConfig(boolean tied) {
        return new LlamaConfig(24, 40, 2, 4, 2, 8, 67, 64, 1e-5, 10000.0, tied, 1, 2);
    }

    public static Map<String, float[]> weights(LlamaConfig config, long seed) {
        Random random = new Random(seed);
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            float[] values = new float[(int) dev.cherryq.core.format.TensorInfo.elementCount(tensor.shape())];
            boolean norm = tensor.shape().length == 1;
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? (float) (1 + 0.1 * random.nextGaussian()) : (float) (0.2 * random.nextGaussian());
            }
            weights.put(tensor.name(), values);
        }
        return weights;
    }

    public static InMemoryTensors tensors(LlamaConfig config, Map<String, float[]> weights) {
        InMemoryTensors tensors = new InMemoryTensors(Path.of("random"));
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.put(tensor.name(), tensor.shape(), weights.get(tensor.name()));
        }
        return tensors;
    }
}
