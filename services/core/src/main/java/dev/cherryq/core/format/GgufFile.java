package dev.cherryq.core.format;

import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a GGUF file holds, read for {@code cherryq inspect} (spec: ggml-org/ggml docs/gguf.md, the layout
 * {@link GgufWriter} describes): the version, the scalar metadata (arrays are counted, not kept), and each tensor's
 * name, dimensions, ggml type and size. Tensor data is not read. Sizes come from ggml's block table
 * ({@link #BLOCKS}: values per block and bytes per block of the types in ggml.c's {@code type_traits}), so files from
 * other writers, with k-quants or other types, are described too; a type missing from the table is sized by the
 * distance to the next tensor's offset (padding included) and named by its id. Every problem is one
 * {@link InvalidInputException} naming the file.
 */
public final class GgufFile {

    /** ggml's name, values per block and bytes per block of a type id (ggml.c type_traits). */
    public record Block(String name, int values, int bytes) {}

    public static final Map<Integer, Block> BLOCKS = Map.ofEntries(
            Map.entry(0, new Block("F32", 1, 4)), Map.entry(1, new Block("F16", 1, 2)),
            Map.entry(2, new Block("Q4_0", 32, 18)), Map.entry(3, new Block("Q4_1", 32, 20)),
            Map.entry(6, new Block("Q5_0", 32, 22)), Map.entry(7, new Block("Q5_1", 32, 24)),
            Map.entry(8, new Block("Q8_0", 32, 34)), Map.entry(9, new Block("Q8_1", 32, 36)),
            Map.entry(10, new Block("Q2_K", 256, 84)), Map.entry(11, new Block("Q3_K", 256, 110)),
            Map.entry(12, new Block("Q4_K", 256, 144)), Map.entry(13, new Block("Q5_K", 256, 176)),
            Map.entry(14, new Block("Q6_K", 256, 210)), Map.entry(15, new Block("Q8_K", 256, 292)),
            Map.entry(24, new Block("I8", 1, 1)), Map.entry(25, new Block("I16", 1, 2)),
            Map.entry(26, new Block("I32", 1, 4)), Map.entry(27, new Block("I64", 1, 8)),
            Map.entry(28, new Block("F64", 1, 8)), Map.entry(30, new Block("BF16", 1, 2)));

    /**
     * One tensor: its name, dims in row-major order (the reverse of ggml's {@code ne}), type id and name, and bytes.
     */
    public record Tensor(String name, long[] shape, int type, String typeName, long offset, long bytes) {
        public long elements() {
            long count = 1;
            for (long dimension : shape) {
                count *= dimension;
            }
            return count;
        }
    }

    private final Path path;
    private final int version;
    private final long fileBytes;
    private final Map<String, Object> metadata;
    private final List<Tensor> tensors;

    private GgufFile(Path path, int version, long fileBytes, Map<String, Object> metadata, List<Tensor> tensors) {
        this.path = path;
        this.version = version;
        this.fileBytes = fileBytes;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Whether the file starts with GGUF's magic. */
    public static boolean isGguf(Path file) {
        if (!Files.isRegularFile(file)) {
            return false;
        }
        try (var in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            return new String(magic, StandardCharsets.US_ASCII).equals("GGUF");
        } catch (IOException e) {
            return false;
        }
    }

    public static GgufFile read(Path file) {
        try (FileChannel channel = FileChannel.open(file)) {
            long size = channel.size();
            // the header, metadata and tensor infos lie at the start; a mapping is at most 2 GiB
            MappedByteBuffer buffer = channel.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(size, Integer.MAX_VALUE));
            buffer.order(ByteOrder.LITTLE_ENDIAN);
            if (size < 24 || buffer.getInt() != GgufWriter.MAGIC) {
                throw new InvalidInputException(file + ": not a GGUF file (no 'GGUF' magic)");
            }
            int version = buffer.getInt();
            if (version < 2 || version > 3) {
                throw new InvalidInputException(file + ": GGUF version " + version + " is not supported (2 or 3)");
            }
            long tensorCount = buffer.getLong();
            long keyCount = buffer.getLong();
            if (tensorCount < 0 || keyCount < 0 || tensorCount > size || keyCount > size) {
                throw new InvalidInputException(file + ": corrupt GGUF header (" + tensorCount + " tensors, " + keyCount
                        + " keys in " + size + " bytes)");
            }
            Map<String, Object> metadata = new LinkedHashMap<>();
            for (long i = 0; i < keyCount; i++) {
                String key = string(buffer, size, file);
                int type = buffer.getInt();
                metadata.put(key, value(buffer, type, size, file));
            }
            List<long[]> infos = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (long i = 0; i < tensorCount; i++) {
                names.add(string(buffer, size, file));
                int dimensions = buffer.getInt();
                if (dimensions < 1 || dimensions > GgufWriter.MAX_DIMENSIONS) {
                    throw new InvalidInputException(file + ": tensor " + names.get(names.size() - 1) + " has "
                            + dimensions + " dimensions");
                }
                long[] info = new long[dimensions + 2]; // ne..., type, offset
                for (int d = 0; d < dimensions; d++) {
                    info[d] = buffer.getLong();
                }
                info[dimensions] = buffer.getInt();
                info[dimensions + 1] = buffer.getLong();
                infos.add(info);
            }
            long alignment = metadata.get("general.alignment") instanceof Number n ? n.longValue() : 32;
            long dataStart = (buffer.position() + alignment - 1) / alignment * alignment;
            List<Tensor> tensors = new ArrayList<>();
            for (int i = 0; i < infos.size(); i++) {
                long[] info = infos.get(i);
                int dimensions = info.length - 2;
                long[] shape = new long[dimensions];
                long elements = 1;
                for (int d = 0; d < dimensions; d++) {
                    shape[d] = info[dimensions - 1 - d]; // ggml's ne[0] is the row length: the last row-major dim
                    elements *= info[d];
                }
                int type = (int) info[dimensions];
                long offset = info[dimensions + 1];
                Block block = BLOCKS.get(type);
                long bytes;
                if (block != null) {
                    bytes = elements / block.values() * block.bytes();
                } else {
                    long next = i + 1 < infos.size() ? infos.get(i + 1)[infos.get(i + 1).length - 1]
                            : size - dataStart;
                    bytes = next - offset;
                }
                if (offset < 0 || dataStart + offset + bytes > size) {
                    throw new InvalidInputException(file + ": tensor " + names.get(i) + " lies beyond the end of the "
                            + "file");
                }
                tensors.add(new Tensor(names.get(i), shape, type, block == null ? "type " + type : block.name(), offset,
                        bytes));
            }
            return new GgufFile(file, version, size, metadata, List.copyOf(tensors));
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new InvalidInputException(file + ": truncated or corrupt GGUF file");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public long fileBytes() {
        return fileBytes;
    }

    /** Scalar metadata by key (strings, numbers, booleans); an array is kept as its length, a {@code Long}. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    public List<Tensor> tensors() {
        return tensors;
    }

    /** {@code general.architecture}, or "unknown". */
    public String architecture() {
        return String.valueOf(metadata.getOrDefault("general.architecture", "unknown"));
    }

    /**
     * Stored bits per value over the tensors {@code selected} says yes to: 8 x their bytes over their elements (the
     * blocks' scales included, the file's header and padding not).
     */
    public double bitsPerWeight(java.util.function.Predicate<Tensor> selected) {
        long bytes = 0;
        long elements = 0;
        for (Tensor tensor : tensors) {
            if (selected.test(tensor)) {
                bytes += tensor.bytes();
                elements += tensor.elements();
            }
        }
        return elements == 0 ? 0 : 8.0 * bytes / elements;
    }

    /** Whether a tensor is a decoder block's linear weight (llama.cpp's names: attn_q/k/v/output, ffn_gate/up/down). */
    public static boolean isLinearWeight(Tensor tensor) {
        return tensor.name().matches("blk\\.\\d+\\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\\.weight");
    }

    private static String string(MappedByteBuffer buffer, long size, Path file) {
        long length = buffer.getLong();
        if (length < 0 || length > size - buffer.position()) {
            throw new InvalidInputException(file + ": truncated or corrupt GGUF file (a string of " + length
                    + " bytes runs past the end)");
        }
        byte[] bytes = new byte[(int) length];
        buffer.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Object value(MappedByteBuffer buffer, int type, long size, Path file) {
        return switch (type) {
            case 0 -> (long) Byte.toUnsignedInt(buffer.get());
            case 1 -> (long) buffer.get();
            case 2 -> (long) Short.toUnsignedInt(buffer.getShort());
            case 3 -> (long) buffer.getShort();
            case 4 -> Integer.toUnsignedLong(buffer.getInt());
            case 5 -> (long) buffer.getInt();
            case 6 -> (double) buffer.getFloat();
            case 7 -> buffer.get() != 0;
            case 8 -> string(buffer, size, file);
            case 9 -> {
                int elementType = buffer.getInt();
                long length = buffer.getLong();
                if (length < 0 || length > size) {
                    throw new InvalidInputException(file + ": corrupt GGUF array length " + length);
                }
                for (long i = 0; i < length; i++) {
                    value(buffer, elementType, size, file);
                }
                yield length;
            }
            case 10, 11 -> buffer.getLong();
            case 12 -> buffer.getDouble();
            default -> throw new InvalidInputException(file + ": unknown GGUF value type " + type);
        };
    }
}
