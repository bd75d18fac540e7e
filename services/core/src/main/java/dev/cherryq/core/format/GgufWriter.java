package dev.cherryq.core.format;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Writes a GGUF v3 file, the format llama.cpp and ggml load (spec: ggml-org/ggml docs/gguf.md). Layout, all
 * little-endian:
 * <ol>
 *   <li>header: magic {@code "GGUF"}, uint32 version 3, uint64 tensor count, uint64 metadata key-value count;</li>
 *   <li>metadata: per entry a string key, a uint32 value type and the value; strings are a uint64 byte length and
 *       UTF-8 bytes (no terminator); arrays are a uint32 element type, a uint64 length and the elements;</li>
 *   <li>tensor infos: per tensor its name, uint32 dimension count, uint64 dimensions in ggml order ({@code ne[0]}
 *       is the row length, so a row-major [out, in] matrix is written as [in, out]), uint32 {@code ggml_type} and
 *       uint64 offset from the start of the data section;</li>
 *   <li>zero padding to {@value #ALIGNMENT} bytes ({@code general.alignment}, always written), then the data
 *       section: each tensor's bytes, each starting at a multiple of the alignment (zero padding between).</li>
 * </ol>
 * Metadata and tensors are written in the order they were added. Tensor values are produced one tensor at a time
 * from suppliers, so the heap never holds the whole model; the file is written under a temporary name and moved
 * into place, so a failure never leaves a half-written file under the real name.
 */
public final class GgufWriter {

    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    public static final int VERSION = 3;
    public static final int ALIGNMENT = 32;
    /** ggml's GGML_MAX_NAME: longer tensor names are refused by ggml. */
    public static final int MAX_TENSOR_NAME_BYTES = 63;
    /** ggml's GGML_MAX_DIMS. */
    public static final int MAX_DIMENSIONS = 4;

    /** GGUF metadata value types ({@code enum gguf_type}). */
    public enum ValueType {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9),
        UINT64(10), INT64(11), FLOAT64(12);

        public final int id;

        ValueType(int id) {
            this.id = id;
        }

        public static ValueType of(int id) {
            for (ValueType type : values()) {
                if (type.id == id) {
                    return type;
                }
            }
            throw new IllegalArgumentException("no GGUF value type " + id);
        }
    }

    private record Entry(String key, byte[] encodedValue) {}

    /** A tensor to write: its row-major shape, its type and where its encoded bytes come from. */
    private record Tensor(String name, long[] shape, GgmlType type, Supplier<ByteBuffer> data) {
        long elements() {
            long count = 1;
            for (long dimension : shape) {
                count *= dimension;
            }
            return count;
        }
    }

    private final List<Entry> metadata = new ArrayList<>();
    private final Set<String> keys = new HashSet<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();

    public GgufWriter() {
        putUint32("general.alignment", ALIGNMENT);
    }

    public GgufWriter putString(String key, String value) {
        return put(key, ValueType.STRING, out -> writeString(out, value));
    }

    public GgufWriter putUint32(String key, long value) {
        if (value < 0 || value > 0xFFFFFFFFL) {
            throw new IllegalArgumentException(key + ": " + value + " does not fit a uint32");
        }
        return put(key, ValueType.UINT32, out -> out.putInt((int) value));
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, ValueType.INT32, out -> out.putInt(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, ValueType.FLOAT32, out -> out.putFloat(value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, ValueType.BOOL, out -> out.put((byte) (value ? 1 : 0)));
    }

    public GgufWriter putStringArray(String key, List<String> values) {
        return put(key, ValueType.ARRAY, out -> {
            out.putInt(ValueType.STRING.id).putLong(values.size());
            for (String value : values) {
                writeString(out, value);
            }
        });
    }

    public GgufWriter putFloat32Array(String key, float[] values) {
        return put(key, ValueType.ARRAY, out -> {
            out.putInt(ValueType.FLOAT32.id).putLong(values.length);
            for (float value : values) {
                out.putFloat(value);
            }
        });
    }

    public GgufWriter putInt32Array(String key, int[] values) {
        return put(key, ValueType.ARRAY, out -> {
            out.putInt(ValueType.INT32.id).putLong(values.length);
            for (int value : values) {
                out.putInt(value);
            }
        });
    }

    /**
     * Adds a tensor of row-major {@code shape} (e.g. [out, in] for a linear weight), stored as {@code type}; the
     * supplier is called once, when the file is written, and must return shape's product of values.
     */
    public GgufWriter addTensor(String name, long[] shape, GgmlType type, Supplier<float[]> values) {
        return add(name, shape, type, () -> type.encode(checkedLength(name, shape, values.get())));
    }

    /**
     * Adds a tensor whose values lie on a grid of given block scales, stored exactly in a block type
     * ({@link GgmlType#encodeOnScales}); both suppliers are called once, when the file is written.
     */
    public GgufWriter addTensorOnGrid(String name, long[] shape, GgmlType type, Supplier<float[]> values,
            Supplier<float[]> blockScales) {
        return add(name, shape, type, () -> type.encodeOnScales(checkedLength(name, shape, values.get()),
                blockScales.get()));
    }

    private static float[] checkedLength(String name, long[] shape, float[] values) {
        long elements = 1;
        for (long dimension : shape) {
            elements *= dimension;
        }
        if (values.length != elements) {
            throw new IllegalStateException("tensor " + name + " produced " + values.length + " values, its shape needs "
                    + elements);
        }
        return values;
    }

    private GgufWriter add(String name, long[] shape, GgmlType type, Supplier<ByteBuffer> data) {
        int nameBytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (nameBytes == 0 || nameBytes > MAX_TENSOR_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' has " + nameBytes + " bytes; ggml takes 1.."
                    + MAX_TENSOR_NAME_BYTES);
        }
        if (tensorNames.contains(name)) {
            throw new IllegalArgumentException("duplicate tensor name " + name);
        }
        if (shape.length == 0 || shape.length > MAX_DIMENSIONS) {
            throw new IllegalArgumentException("tensor " + name + " has " + shape.length + " dimensions; ggml takes 1.."
                    + MAX_DIMENSIONS);
        }
        for (long dimension : shape) {
            if (dimension <= 0) {
                throw new IllegalArgumentException("tensor " + name + " has a dimension of " + dimension);
            }
        }
        if (!type.fitsRowLength(shape[shape.length - 1])) {
            throw new IllegalArgumentException("tensor " + name + ": rows of " + shape[shape.length - 1]
                    + " values are not a whole number of " + type + " blocks of " + type.blockSize());
        }
        tensorNames.add(name);
        tensors.add(new Tensor(name, shape.clone(), type, data));
        return this;
    }

    /** Writes the file: header, metadata, tensor infos, then each tensor's data, aligned. */
    public void write(Path file) {
        Path temporary = file.resolveSibling(file.getFileName() + ".partial");
        try {
            if (file.toAbsolutePath().getParent() != null) {
                Files.createDirectories(file.toAbsolutePath().getParent());
            }
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                byte[] header = header();
                writeFully(channel, ByteBuffer.wrap(header));
                long position = header.length;
                for (Tensor tensor : tensors) {
                    ByteBuffer data = tensor.data().get();
                    if (data.remaining() != tensor.type().byteLength(tensor.elements())) {
                        throw new IllegalStateException("tensor " + tensor.name() + " encoded to " + data.remaining()
                                + " bytes, its shape needs " + tensor.type().byteLength(tensor.elements()));
                    }
                    position += writeFully(channel, data);
                    position += writeFully(channel, ByteBuffer.allocate(padding(position))); // zeros to the next tensor
                }
                channel.force(true);
            }
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(temporary);
            throw new UncheckedIOException("cannot write " + file, e);
        } catch (RuntimeException e) {
            deleteQuietly(temporary);
            throw e;
        }
    }

    /** Everything before the data section: header, metadata, tensor infos, zero padding to the alignment. */
    byte[] header() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Little out = new Little(bytes);
        out.putInt(MAGIC).putInt(VERSION).putLong(tensors.size()).putLong(metadata.size());
        for (Entry entry : metadata) {
            writeString(out, entry.key());
            out.putBytes(entry.encodedValue());
        }
        long offset = 0;
        for (Tensor tensor : tensors) {
            writeString(out, tensor.name());
            out.putInt(tensor.shape().length);
            for (int axis = tensor.shape().length - 1; axis >= 0; axis--) {
                out.putLong(tensor.shape()[axis]); // ggml order: ne[0] is the innermost (row) dimension
            }
            out.putInt(tensor.type().id());
            out.putLong(offset);
            offset += tensor.type().byteLength(tensor.elements());
            offset += padding(offset);
        }
        out.putBytes(new byte[padding(bytes.size())]);
        return bytes.toByteArray();
    }

    private static int padding(long position) {
        return (int) ((ALIGNMENT - position % ALIGNMENT) % ALIGNMENT);
    }

    private GgufWriter put(String key, ValueType type, java.util.function.Consumer<Little> value) {
        if (!keys.add(key)) {
            throw new IllegalArgumentException("duplicate metadata key " + key);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Little out = new Little(bytes);
        out.putInt(type.id);
        value.accept(out);
        metadata.add(new Entry(key, bytes.toByteArray()));
        return this;
    }

    private static void writeString(Little out, String value) {
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        out.putLong(utf8.length).putBytes(utf8);
    }

    private static int writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        int length = buffer.remaining();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        return length;
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the original failure is the one worth reporting
        }
    }

    /** Little-endian primitives onto a byte stream. */
    private static final class Little {
        private final ByteArrayOutputStream out;
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        Little(ByteArrayOutputStream out) {
            this.out = out;
        }

        Little putInt(int value) {
            out.write(scratch.clear().putInt(value).array(), 0, 4);
            return this;
        }

        Little putLong(long value) {
            out.write(scratch.clear().putLong(value).array(), 0, 8);
            return this;
        }

        Little putFloat(float value) {
            return putInt(Float.floatToRawIntBits(value));
        }

        Little put(byte value) {
            out.write(value);
            return this;
        }

        Little putBytes(byte[] bytes) {
            out.write(bytes, 0, bytes.length);
            return this;
        }
    }
}
