package dev.cherryq.core.format;

import dev.cherryq.core.InvalidInputException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * F32 tensors held in the heap: for small converted checkpoints (llama2.c) and for results about to be written.
 */
public final class InMemoryTensors implements TensorSource {

    private final Path origin;
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    public InMemoryTensors(Path origin) {
        this.origin = origin;
    }

    public InMemoryTensors put(String name, long[] shape, float[] data) {
        if (TensorInfo.elementCount(shape) != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values for shape "
                    + java.util.Arrays.toString(shape));
        }
        values.put(name, data);
        shapes.put(name, shape.clone());
        return this;
    }

    @Override
    public List<String> tensorNames() {
        return List.copyOf(values.keySet());
    }

    @Override
    public TensorInfo info(String name) {
        long[] shape = shapes.get(name);
        if (shape == null) {
            throw new InvalidInputException(origin + ": tensor '" + name + "' not found");
        }
        return new TensorInfo(name, DType.F32, shape.clone(), -1, TensorInfo.elementCount(shape) * 4, origin);
    }

    @Override
    public boolean contains(String name) {
        return values.containsKey(name);
    }

    /** The stored array itself (not a copy). */
    @Override
    public float[] readFloats(String name) {
        info(name);
        return values.get(name);
    }

    @Override
    public void close() {
        // heap only
    }
}
