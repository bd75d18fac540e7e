package dev.cherryq.core.gptq;

import ai.djl.ndarray.NDArray;

/**
 * The Hessian of one linear layer's reconstruction error ||W X - Q X||^2 over calibration inputs: H = 2/n * sum over
 * the n input vectors x of x x^T (Frantar et al., 2023, Sec. 3; the reference's add_batch). Each batch's X^T X is
 * computed by PyTorch in f32 and added to a running sum in double.
 */
public final class HessianAccumulator {

    private final int width;
    /** (width, width) row-major: sum over inputs of x x^T. */
    private final double[] sum;
    private long inputs;

    public HessianAccumulator(int width) {
        if (width < 1) {
            throw new IllegalArgumentException("width " + width);
        }
        this.width = width;
        this.sum = new double[Math.multiplyExact(width, width)];
    }

    /**
     * Adds every input vector of {@code batch}, (..., width) f32 such as (batch, seq, width). Intermediates stay in the
     * batch's manager (a forward step), which frees them.
     */
    public void add(NDArray batch) {
        long[] shape = batch.getShape().getShape();
        if (shape[shape.length - 1] != width) {
            throw new IllegalArgumentException("inputs of width " + shape[shape.length - 1] + " for a Hessian of width " + width);
        }
        NDArray rows = batch.reshape(-1, width); // (n, width)
        try (NDArray gram = rows.transpose().matMul(rows)) { // (width, width) = X^T X
            float[] values = gram.toFloatArray();
            for (int i = 0; i < values.length; i++) {
                sum[i] += values[i];
            }
        }
        inputs += rows.getShape().get(0);
    }

    /** Adds {@code count} input vectors given row-major as (count, width), in plain Java double. */
    public void add(float[] vectors, int count) {
        if (vectors.length != (long) count * width) {
            throw new IllegalArgumentException(vectors.length + " values for " + count + " inputs of width " + width);
        }
        for (int n = 0; n < count; n++) {
            int offset = n * width;
            for (int i = 0; i < width; i++) {
                double xi = vectors[offset + i];
                if (xi == 0) {
                    continue;
                }
                int row = i * width;
                for (int j = 0; j < width; j++) {
                    sum[row + j] += xi * vectors[offset + j];
                }
            }
        }
        inputs += count;
    }

    public int width() {
        return width;
    }

    /** How many input vectors (calibration tokens) were added. */
    public long inputs() {
        return inputs;
    }

    /** H = 2/n * sum x x^T, (width, width) row-major, a new array; all zeros before any input. */
    public double[] hessian() {
        double[] hessian = new double[sum.length];
        if (inputs == 0) {
            return hessian;
        }
        double factor = 2.0 / inputs;
        for (int i = 0; i < sum.length; i++) {
            hessian[i] = sum[i] * factor;
        }
        return hessian;
    }
}
