package dev.cherryq.core.format;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where one tensor lives in a safetensors file: dtype, shape and its byte range in the file (absolute offsets).
 */
public record TensorInfo(String name, DType dtype, long[] shape, long fileOffset, long byteLength, Path file) {

    public long elementCount() {
        return elementCount(shape);
    }

    public static long elementCount(long[] shape) {
        long count = 1;
        for (long dim : shape) {
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
