package dev.cherryq.core.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Supplier;

/**
 * A tensor to be written: name, dtype, shape and a supplier of its little-endian bytes. The bytes are produced
 * only when the writer reaches the tensor, so a checkpoint is written one tensor at a time.
 */
public record TensorData(String name, DType dtype, long[] shape, Supplier<ByteBuffer> bytes) {

    public long byteLength() {
        return TensorInfo.elementCount(shape) * dtype.byteSize();
    }

    /** f32 values stored as F32, F16 or BF16 (rounded to nearest even). */
    public static TensorData ofFloats(String name, DType dtype, long[] shape, float[] values) {
        checkCount(name, shape, values.length);
        return new TensorData(name, dtype, shape, () -> encodeFloats(dtype, values));
    }

    public static TensorData ofInts(String name, long[] shape, int[] values) {
        checkCount(name, shape, values.length);
        return new TensorData(name, DType.I32, shape, () -> {
            ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buffer.asIntBuffer().put(values);
            return buffer;
        });
    }


    static ByteBuffer encodeFloats(DType dtype, float[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> buffer.asFloatBuffer().put(values);
            case F16 -> {
                for (float value : values) {
                    buffer.putShort(HalfPrecision.floatToF16(value));
                }
            }
            case BF16 -> {
                for (float value : values) {
                    buffer.putShort(HalfPrecision.floatToBf16(value));
                }
            }
            default -> throw new IllegalArgumentException("cannot store floats as " + dtype);
        }
        return buffer.position(0);
    }

    private static void checkCount(String name, long[] shape, int count) {
        if (TensorInfo.elementCount(shape) != count) {
            throw new IllegalArgumentException("tensor " + name + ": " + count + " values for shape "
                    + java.util.Arrays.toString(shape));
        }
    }
}
