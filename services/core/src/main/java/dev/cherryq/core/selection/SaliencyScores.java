package dev.cherryq.core.selection;

import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantSpec;

/**
 * The saliency criterion: what a weight loses to rounding, weighted by how much the loss cares about it,
 * F_ii (w_i - q(w_i))^2. This is the second-order term of the loss change when w_i alone is rounded (the Optimal
 * Brain Surgeon view with a diagonal Hessian, as in SqueezeLLM's sensitivity), with the empirical Fisher diagonal F
 * (the impact, Cui and Wang, 2024, Sec. 3) standing in for the Hessian and q the round-to-nearest of the job's format.
 * Impact alone ranks weights by F_ii; a weight that lies on a quantization level loses nothing to rounding, however
 * large its impact.
 */
public final class SaliencyScores {

    private SaliencyScores() {}

    /**
     * @param impacts F_ii of a [rows, columns] weight, row-major
     * @param weights the weight, row-major
     * @return F_ii (w_i - q(w_i))^2, row-major
     */
    public static float[] of(float[] impacts, float[] weights, int rows, int columns, QuantSpec spec) {
        if (impacts.length != weights.length || weights.length != (long) rows * columns) {
            throw new IllegalArgumentException(impacts.length + " impacts and " + weights.length + " weights for a "
                    + rows + "x" + columns + " matrix");
        }
        float[] rounded = GroupQuantizer.quantize(weights, rows, columns, spec).dequantize(); // q(w), same grid as QAT
        float[] saliency = new float[weights.length];
        for (int i = 0; i < weights.length; i++) {
            double error = (double) weights[i] - rounded[i]; // what rounding takes from w_i
            saliency[i] = (float) (impacts[i] * error * error);
        }
        return saliency;
    }
}
