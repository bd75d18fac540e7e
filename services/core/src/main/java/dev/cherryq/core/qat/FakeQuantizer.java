package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;

/**
 * Differentiable fake quantization of a linear weight, the forward of CherryQ's unified mixed-precision training
 * (Cui and Wang, 2024, Sec. 4). Group scales are recomputed from the current weights on every call, with cherry
 * positions masked out of the statistics. The output is
 * {@code w + ((q(w) - w) * (1 - cherryMask)).stopGradient()}: normal weights take their quantized value and the
 * straight-through estimator (gradient identity); cherries keep their full-precision value and exact gradient.
 * The arithmetic (f32, floor for sym-full, half-to-even rounding for asym and sym) equals {@link GroupQuantizer}'s.
 */
public final class FakeQuantizer {

    private final QuantSpec spec;

    public FakeQuantizer(QuantSpec spec) {
        this.spec = spec;
    }

    public QuantSpec spec() {
        return spec;
    }

    /**
     * The weight the layer computes with, the only array this call leaves in the weight's (step) manager: the group
     * statistics, codes and differences (about 14 arrays of the weight's size) are computed in a scope of their own
     * and freed before it returns. Left in the step, they were held until the step's backward had run: 14 x 4 bytes
     * per linear parameter at once, the largest part of an end-to-end trainer's peak at 60M parameters
     * (docs/SCALING.md). The gradient needs none of them (they are detached); PyTorch keeps what autograd saves.
     *
     * @param weight (rows, columns)
     * @param cherryMask (rows, columns) 1 at cherries, 0 elsewhere; null for none. Returned to its manager after.
     * @return (rows, columns) the weight the layer computes with, in the weight's manager
     */
    public NDArray apply(NDArray weight, NDArray cherryMask) {
        NDManager step = weight.getManager();
        NDArray difference; // (rows, columns) q(w) - w at normal weights, 0 at cherries; no gradient
        try (NDManager scratch = step.newSubManager()) {
            NDArray detached = weight.stopGradient();
            detached.attach(scratch); // what is computed from it lands in the scratch scope
            if (cherryMask != null) {
                cherryMask.tempAttach(scratch); // and what is computed from the mask too
            }
            NDArray quantized = dequantizedNormal(detached, cherryMask);
            difference = quantized.sub(detached);
            if (cherryMask != null) {
                difference = difference.mul(cherryMask.neg().add(1)); // cherries keep their value
            }
            difference = difference.stopGradient();
            difference.attach(step); // the one array kept past the scope, until the sum below
        }
        NDArray result = weight.add(difference); // STE: the forward sees q(w), the gradient is the identity
        difference.close();
        return result;
    }

    /** q(w) for every position, with group statistics over the non-cherry positions. (rows, columns). */
    public NDArray dequantizedNormal(NDArray weight, NDArray cherryMask) {
        NDManager manager = weight.getManager();
        long rows = weight.getShape().get(0);
        long columns = weight.getShape().get(1);
        int groupLength = spec.groupLength((int) columns);
        int groups = spec.groupsPerRow((int) columns);
        long padding = (long) groups * groupLength - columns;
        // pad the last group with excluded zeros so every group has the same length: (rows, groups, groupLength)
        NDArray excluded = cherryMask != null ? cherryMask : manager.zeros(weight.getShape());
        NDArray padded = weight;
        if (padding > 0) {
            padded = NDArrays.concat(new NDList(weight, manager.zeros(new Shape(rows, padding))), 1);
            excluded = NDArrays.concat(new NDList(excluded, manager.ones(new Shape(rows, padding))), 1);
        }
        NDArray grouped = padded.reshape(rows, groups, groupLength);
        NDArray excludedGrouped = excluded.reshape(rows, groups, groupLength);
        NDArray included = excludedGrouped.neg().add(1);
        NDArray dequantized;
        if (spec.scheme() == QuantScheme.SYM_FULL) {
            int half = spec.levels() / 2;
            // s = absmax / 2^(b-1) over included positions; levels (k + 1/2) s, k in [-2^(b-1), 2^(b-1) - 1]
            NDArray absMax = grouped.abs().mul(included).max(new int[] {2}, true);
            NDArray scale = absMax.div(half).maximum(GroupQuantizer.MIN_SCALE);
            NDArray k = grouped.div(scale).floor().clip(-half, half - 1);
            dequantized = k.add(0.5f).mul(scale);
        } else if (spec.scheme() == QuantScheme.SYM) {
            int half = spec.levels() / 2;
            // GPTQ's grid: s = 2 absmax / (2^b - 1) over included positions; levels k s, k in [-2^(b-1), 2^(b-1) - 1]
            NDArray absMax = grouped.abs().mul(included).max(new int[] {2}, true);
            NDArray scale = absMax.mul(2).div(spec.levels() - 1).maximum(GroupQuantizer.MIN_SCALE);
            NDArray k = grouped.div(scale).round().clip(-half, half - 1);
            dequantized = k.mul(scale);
        } else {
            int maxCode = spec.levels() - 1;
            float big = 3e38f;
            // min and max over included positions; a group with none included gets 0 for both
            NDArray anyIncluded = included.sum(new int[] {2}, true).gt(0);
            NDArray min = grouped.add(excludedGrouped.mul(big)).min(new int[] {2}, true);
            NDArray max = grouped.sub(excludedGrouped.mul(big)).max(new int[] {2}, true);
            NDArray zeros = min.zerosLike();
            min = NDArrays.where(anyIncluded, min, zeros);
            max = NDArrays.where(anyIncluded, max, zeros);
            NDArray scale = max.sub(min).div(maxCode).maximum(GroupQuantizer.MIN_SCALE);
            NDArray zero = min.neg().div(scale).round();
            NDArray q = grouped.div(scale).add(zero).round().clip(0, maxCode);
            dequantized = q.sub(zero).mul(scale);
        }
        NDArray flat = dequantized.reshape(rows, (long) groups * groupLength);
        return padding > 0 ? flat.get(new NDIndex(":, 0:{}", columns)) : flat;
    }
}
