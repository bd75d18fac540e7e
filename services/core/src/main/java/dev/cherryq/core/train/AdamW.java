package dev.cherryq.core.train;

import dev.cherryq.core.NativeArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter, 2019): Adam moments with bias correction and weight decay decoupled from the
 * gradient. Written on NDArrays rather than using DJL's optimizer so that the moments can be saved and restored
 * (exact resume). Updates run in place, outside any GradientCollector.
 */
public final class AdamW implements AutoCloseable {

    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final float weightDecay;
    private final NDManager manager;
    /** Per parameter: first and second moments, same shape as the parameter. */
    private final Map<String, NDArray> firstMoments = new LinkedHashMap<>();
    private final Map<String, NDArray> secondMoments = new LinkedHashMap<>();
    private int steps;

    public AdamW(NDManager parent, float beta1, float beta2, float epsilon, float weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
        this.manager = parent.newSubManager();
    }

    /** One update of every parameter that has a gradient; gradients are left as they are (zero them after). */
    public void step(Map<String, NDArray> parameters, float learningRate) {
        step(parameters, learningRate, Map.of());
    }

    /**
     * As above, with per-element multiples of the rate for some parameters: {@code rateScales} maps a parameter's
     * name to a tensor of its shape (CherryQ's cherries may step at their own rate); the others step at the rate.
     */
    public void step(Map<String, NDArray> parameters, float learningRate, Map<String, NDArray> rateScales) {
        steps++;
        float firstCorrection = 1 - (float) Math.pow(beta1, steps);
        float secondCorrection = 1 - (float) Math.pow(beta2, steps);
        for (Map.Entry<String, NDArray> entry : parameters.entrySet()) {
            NDArray parameter = entry.getValue();
            try (NDManager scope = manager.newSubManager()) {
                NDArray gradient = parameter.getGradient();
                gradient.attach(scope);
                NDArray first = firstMoments.computeIfAbsent(entry.getKey(), k -> manager.zeros(parameter.getShape()));
                NDArray second = secondMoments.computeIfAbsent(entry.getKey(), k -> manager.zeros(parameter.getShape()));
                // every temporary below lands in the scope and is freed with it
                first.tempAttach(scope);
                second.tempAttach(scope);
                parameter.tempAttach(scope);
                // m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
                first.muli(beta1).addi(gradient.mul(1 - beta1));
                second.muli(beta2).addi(gradient.square().muli(1 - beta2));
                // p -= lr (m_hat / (sqrt(v_hat) + eps) + wd p)
                NDArray update = first.div(firstCorrection).divi(second.div(secondCorrection).sqrt().addi(epsilon));
                if (weightDecay != 0) {
                    update.addi(parameter.mul(weightDecay));
                }
                NDArray rateScale = rateScales.get(entry.getKey());
                if (rateScale != null) {
                    update.muli(rateScale); // element-wise: a cherry's step at its own multiple of the rate
                }
                parameter.subi(update.muli(learningRate));
            }
        }
    }

    public int steps() {
        return steps;
    }

    /** Restores the state saved from {@link #steps()}, {@link #firstMoments()} and {@link #secondMoments()}. */
    public void restore(int savedSteps, Map<String, float[]> first, Map<String, float[]> second, Map<String, long[]> shapes) {
        firstMoments.values().forEach(NDArray::close);
        secondMoments.values().forEach(NDArray::close);
        firstMoments.clear();
        secondMoments.clear();
        first.forEach((name, values) -> firstMoments.put(name, NativeArrays.of(manager, values, new ai.djl.ndarray.types.Shape(
                shapes.get(name)))));
        second.forEach((name, values) -> secondMoments.put(name, NativeArrays.of(manager, values, new ai.djl.ndarray.types.Shape(
                shapes.get(name)))));
        this.steps = savedSteps;
    }

    public Map<String, NDArray> firstMoments() {
        return firstMoments;
    }

    public Map<String, NDArray> secondMoments() {
        return secondMoments;
    }

    @Override
    public void close() {
        manager.close();
    }
}
