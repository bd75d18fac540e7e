package dev.cherryq.core.scoring;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Running sum of squared gradients per parameter, one call per sample: the numerator of the empirical Fisher
 * diagonal. Works for any differentiable model: the caller runs backward for one sample, then calls
 * {@link #addSquaredGradients}.
 */
public final class FisherAccumulator implements AutoCloseable {

    private final NDManager manager;
    /** Per parameter: sum over samples of grad^2, same shape as the parameter. */
    private final Map<String, NDArray> sums = new LinkedHashMap<>();
    private int samples;

    public FisherAccumulator(NDManager parent) {
        this.manager = parent.newSubManager();
    }

    /** Adds grad^2 of each parameter (its current gradient) and counts one sample. */
    public void addSquaredGradients(Map<String, NDArray> parameters) {
        for (Map.Entry<String, NDArray> entry : parameters.entrySet()) {
            try (NDManager scope = manager.newSubManager()) {
                NDArray gradient = entry.getValue().getGradient();
                gradient.attach(scope);
                NDArray sum = sums.computeIfAbsent(entry.getKey(), k -> manager.zeros(gradient.getShape()));
                sum.addi(gradient.square());
            }
        }
        samples++;
    }

    public int samples() {
        return samples;
    }

    /** The sums copied to the heap, name to row-major f32. */
    public Map<String, float[]> sums() {
        Map<String, float[]> out = new LinkedHashMap<>();
        sums.forEach((name, sum) -> out.put(name, sum.toFloatArray()));
        return out;
    }

    public Map<String, long[]> shapes() {
        Map<String, long[]> out = new LinkedHashMap<>();
        sums.forEach((name, sum) -> out.put(name, sum.getShape().getShape()));
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}
