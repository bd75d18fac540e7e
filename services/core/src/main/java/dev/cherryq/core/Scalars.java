package dev.cherryq.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Scalar operands for arithmetic that autograd records. Use {@code x.mul(Scalars.of(step, s))}, never
 * {@code x.mul(s)}, for any array inside a GradientCollector.
 *
 * <p>Why: DJL 0.35's PyTorch {@code NDArray.mul(Number)} (and add, sub, div, pow, maximum... with a Number) wraps the
 * number in a 0-dim array over a Java direct buffer ({@code torch::from_blob}), runs the op, and closes the wrapper
 * at once. Autograd keeps that 0-dim array for backward (mul, div and pow save their other operand), but its memory
 * belongs to the buffer, which the JVM frees when the garbage collector finds it. Backward then reads freed memory:
 * after a GC between forward and backward, every gradient upstream of the op is wrong (ScalarsTest and
 * LlamaModelTest measure it; it was the cause of runs in one JVM disagreeing by up to 50%). Arrays made here are
 * allocated by PyTorch ({@code torch::full}), so the graph's own reference keeps them alive.
 */
public final class Scalars {

    private Scalars() {}

    /** A 0-dim f32 array of {@code value}, owned by PyTorch and attached to {@code manager}. */
    public static NDArray of(NDManager manager, float value) {
        return manager.full(new Shape(), value, DataType.FLOAT32);
    }
}
