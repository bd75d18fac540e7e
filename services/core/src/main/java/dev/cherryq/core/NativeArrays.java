package dev.cherryq.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * NDArrays made from Java arrays whose native memory is freed when they are closed, and direct buffers released when
 * their reader is done with them.
 *
 * <p>DJL's PyTorch engine (0.35, CPU) copies a Java array into a direct ByteBuffer and hands PyTorch that buffer's
 * memory without a copy ({@code from_blob}); the array keeps the buffer alive. Closing the array then frees nothing:
 * the memory goes back only when the garbage collector finds the buffer, and for long-lived arrays (weights, optimizer
 * moments) that sit in the old generation of a worker whose heap rarely fills, that is hours later or never. A fleet
 * trainer grew by 7.7 MiB per job that way, 2.2 GiB in 30 minutes (docs/BENCHMARKS.md). Here the values pass through
 * a buffer that is released at once, into a tensor PyTorch allocated and frees on close.
 */
public final class NativeArrays {

    /** sun.misc.Unsafe.invokeCleaner, or null where the JDK does not offer it (then the collector frees buffers). */
    private static final sun.misc.Unsafe UNSAFE = unsafe();

    private NativeArrays() {}

    /** A float32 array of {@code shape} holding {@code values} (row-major), in memory PyTorch owns. */
    public static NDArray of(NDManager manager, float[] values, Shape shape) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(Math.multiplyExact(values.length, Float.BYTES))
                .order(ByteOrder.nativeOrder());
        buffer.asFloatBuffer().put(values);
        return owned(manager, buffer, shape, DataType.FLOAT32);
    }

    /** An int32 array of {@code shape} holding {@code values} (row-major), in memory PyTorch owns. */
    public static NDArray of(NDManager manager, int[] values, Shape shape) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(Math.multiplyExact(values.length, Integer.BYTES))
                .order(ByteOrder.nativeOrder());
        buffer.asIntBuffer().put(values);
        return owned(manager, buffer, shape, DataType.INT32);
    }

    /** An int64 array of {@code shape} holding {@code values} (row-major), in memory PyTorch owns. */
    public static NDArray of(NDManager manager, long[] values, Shape shape) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(Math.multiplyExact(values.length, Long.BYTES))
                .order(ByteOrder.nativeOrder());
        buffer.asLongBuffer().put(values);
        return owned(manager, buffer, shape, DataType.INT64);
    }

    /**
     * Frees a direct or memory-mapped buffer now instead of at its collection. The caller must hold no other view of
     * it; a buffer that is not direct is left alone.
     */
    public static void release(ByteBuffer buffer) {
        if (UNSAFE != null && buffer.isDirect()) {
            UNSAFE.invokeCleaner(buffer);
        }
    }

    private static NDArray owned(NDManager manager, ByteBuffer buffer, Shape shape, DataType type) {
        try (NDArray view = manager.create(buffer, shape, type)) { // shares the buffer's memory
            return view.duplicate(); // a copy in PyTorch's allocator; the view and buffer go now
        } finally {
            release(buffer);
        }
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field field = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            field.setAccessible(true);
            return (sun.misc.Unsafe) field.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
