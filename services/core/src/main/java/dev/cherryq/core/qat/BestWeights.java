package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.DjlRuntime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validation scores of a QAT run and a copy of the weights that scored best: what the run returns, so that
 * training that overfits or diverges late, or never improves on its start, cannot make the result worse on held-out
 * text than it was. Ties keep the earlier step (the start wins a tie: no gain, no change). Lives in the trainer's
 * checkpoint, so a run split into segments over several workers keeps the same best as an uninterrupted one. The
 * parameters are a whole model's (end-to-end) or one block's (block-wise).
 */
final class BestWeights {

    private final List<QatTrainer.ValidationPoint> points = new ArrayList<>();
    private int step = -1;
    private double meanNll = Double.POSITIVE_INFINITY;
    /** Parameters after {@link #step} steps; null before the first offer. */
    private Map<String, float[]> weights;

    /** Records the score after {@code atStep} steps, copying the parameters when they are the best so far. */
    void offer(int atStep, double nll, Map<String, NDArray> parameters) {
        if (!points.isEmpty() && points.get(points.size() - 1).step() == atStep) {
            return; // already scored (a segment's end that is also a validation boundary)
        }
        points.add(new QatTrainer.ValidationPoint(atStep, nll));
        if (nll < meanNll) {
            step = atStep;
            meanNll = nll;
            weights = copy(parameters);
        }
    }

    /** The best weights are not the model's after {@code atStep} steps (so the model must be set back to them). */
    boolean holdsOtherThan(int atStep) {
        return step >= 0 && step != atStep;
    }

    int step() {
        return step;
    }

    double meanNll() {
        return meanNll;
    }

    List<QatTrainer.ValidationPoint> points() {
        return List.copyOf(points);
    }

    /** The best weights, for a checkpoint; null when there are none. */
    Map<String, float[]> weights() {
        return weights;
    }

    /** State read back from a checkpoint. */
    void restore(List<QatTrainer.ValidationPoint> savedPoints, int savedStep, double savedNll,
            Map<String, float[]> savedWeights) {
        points.clear();
        points.addAll(savedPoints);
        step = savedStep;
        meanNll = savedNll;
        weights = savedWeights;
    }

    /** Copies the best weights into the parameters in place (keeping their storage and autograd identity). */
    void restoreInto(Map<String, NDArray> parameters) {
        try (NDManager scope = DjlRuntime.newManager()) {
            for (Map.Entry<String, NDArray> entry : parameters.entrySet()) {
                NDArray parameter = entry.getValue();
                parameter.muli(0).addi(NativeArrays.of(scope, weights.get(entry.getKey()), parameter.getShape()));
            }
        }
    }

    private static Map<String, float[]> copy(Map<String, NDArray> parameters) {
        Map<String, float[]> copy = new LinkedHashMap<>();
        parameters.forEach((name, value) -> copy.put(name, value.toFloatArray()));
        return copy;
    }
}
