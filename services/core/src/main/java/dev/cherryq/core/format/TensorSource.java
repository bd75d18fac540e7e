package dev.cherryq.core.format;

import java.io.Closeable;
import java.util.List;

/**
 * Named tensors that can be read one at a time as f32, so that a checkpoint never has to sit in the heap whole.
 */
public interface TensorSource extends Closeable {

    List<String> tensorNames();

    /** The tensor's dtype, shape and location; throws {@link dev.cherryq.core.InvalidInputException} if absent. */
    TensorInfo info(String name);

    boolean contains(String name);

    /** The tensor converted to f32, row-major. */
    float[] readFloats(String name);

    @Override
    void close();
}
