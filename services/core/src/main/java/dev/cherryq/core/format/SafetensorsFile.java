package dev.cherryq.core.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped reader for one safetensors file (format spec: huggingface/safetensors README, "Format").
 * Layout: u64 little-endian header length N, N bytes of JSON header, then the data buffer. Every header
 * field is validated before anything is allocated: the header length against the file size, each dtype,
 * each shape against its byte range, ranges inside the buffer and not overlapping. Tensors are read by
 * mapping their range in chunks, so a multi-GB shard needs no heap of that size.
 */
public final class SafetensorsFile implements TensorSource {

    /** The format caps the header at 100 MB. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final int MAP_CHUNK_BYTES = 1 << 28;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final FileChannel channel;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, FileChannel channel, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file; every problem is an {@link InvalidInputException} naming the file. */
    public static SafetensorsFile open(Path file) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(file + ": file not found");
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot open: " + e.getMessage(), e);
        }
        try {
            return parse(file, channel);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static SafetensorsFile parse(Path file, FileChannel channel) {
        long fileSize = size(file, channel);
        if (fileSize < 8) {
            throw corrupt(file, "header length", "file is " + fileSize + " bytes, too short for the 8-byte header length");
        }
        ByteBuffer lengthBytes = readFully(file, channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = lengthBytes.getLong();
        if (headerLength < 2 || headerLength > fileSize - 8) {
            throw corrupt(file, "header length", "header length " + Long.toUnsignedString(headerLength)
                    + " is past the end of the file (" + fileSize + " bytes)");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw corrupt(file, "header length", "header length " + headerLength + " exceeds the format's 100 MB limit");
        }
        ByteBuffer headerBytes = readFully(file, channel, 8, (int) headerLength);
        JsonNode header;
        try {
            header = JSON.readTree(StandardCharsets.UTF_8.decode(headerBytes).toString());
        } catch (IOException e) {
            throw corrupt(file, "header", "header is not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (header == null || !header.isObject()) {
            throw corrupt(file, "header", "header is not a JSON object");
        }
        long dataStart = 8 + headerLength;
        long dataLength = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            String name = entry.getKey();
            JsonNode node = entry.getValue();
            if (name.equals("__metadata__")) {
                node.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            TensorInfo info = parseTensor(file, name, node, dataStart, dataLength);
            tensors.put(name, info);
            ranges.add(new long[] {info.fileOffset() - dataStart, info.fileOffset() - dataStart + info.byteLength(),
                    tensors.size() - 1});
        }
        checkNoOverlap(file, ranges, new ArrayList<>(tensors.keySet()));
        return new SafetensorsFile(file, channel, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo parseTensor(Path file, String name, JsonNode node, long dataStart, long dataLength) {
        String field = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw corrupt(file, field, "entry is not an object");
        }
        String dtypeName = node.path("dtype").asText(null);
        DType dtype = dtypeName == null ? null : DType.fromSafetensorsName(dtypeName);
        if (dtype == null) {
            throw corrupt(file, field + " dtype", "unknown dtype '" + dtypeName + "' (supported: "
                    + DType.supportedNames() + ")");
        }
        JsonNode shapeNode = node.path("shape");
        if (!shapeNode.isArray()) {
            throw corrupt(file, field + " shape", "missing or not an array");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!shapeNode.get(i).canConvertToLong() || shapeNode.get(i).asLong() < 0) {
                throw corrupt(file, field + " shape", "dimension " + shapeNode.get(i) + " is not a non-negative integer");
            }
            shape[i] = shapeNode.get(i).asLong();
        }
        JsonNode offsets = node.path("data_offsets");
        if (!offsets.isArray() || offsets.size() != 2 || !offsets.get(0).canConvertToLong()
                || !offsets.get(1).canConvertToLong()) {
            throw corrupt(file, field + " data_offsets", "must be [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLength) {
            throw corrupt(file, field + " data_offsets", "[" + begin + ", " + end + "] is out of range of the "
                    + dataLength + "-byte data buffer");
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw corrupt(file, field + " shape", "shape overflows");
        }
        if (end - begin != expectedBytes) {
            throw corrupt(file, field + " data_offsets", "byte range of " + (end - begin) + " bytes does not match shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype.safetensorsName() + " (" + expectedBytes + " bytes)");
        }
        return new TensorInfo(name, dtype, shape, dataStart + begin, end - begin, file);
    }

    private static void checkNoOverlap(Path file, List<long[]> ranges, List<String> names) {
        ranges.sort(Comparator.comparingLong((long[] r) -> r[0]).thenComparingLong(r -> r[1]));
        for (int i = 1; i < ranges.size(); i++) {
            long[] previous = ranges.get(i - 1);
            long[] current = ranges.get(i);
            if (current[0] < previous[1] && current[1] > current[0]) {
                throw corrupt(file, "tensor '" + names.get((int) current[2]) + "' data_offsets",
                        "overlaps tensor '" + names.get((int) previous[2]) + "'");
            }
        }
    }

    public Path file() {
        return file;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** The metadata, after checking that {@code cherryq.kind} names the expected kind of file. */
    public Map<String, String> requireKind(String kind) {
        String actual = metadata.get("cherryq.kind");
        if (!kind.equals(actual)) {
            throw new InvalidInputException(file + ": not a " + kind + " file (metadata cherryq.kind is " + actual + ")");
        }
        return metadata;
    }

    @Override
    public List<String> tensorNames() {
        return List.copyOf(tensors.keySet());
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new InvalidInputException(file + ": tensor '" + name + "' not found");
        }
        return info;
    }

    @Override
    public float[] readFloats(String name) {
        TensorInfo info = info(name);
        if (info.elementCount() > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException(file + ": tensor '" + name + "' has " + info.elementCount()
                    + " elements, more than one Java array holds");
        }
        float[] out = new float[(int) info.elementCount()];
        int element = 0;
        int elementBytes = info.dtype().byteSize();
        long chunkBytes = (MAP_CHUNK_BYTES / elementBytes) * (long) elementBytes;
        for (long done = 0; done < info.byteLength(); done += chunkBytes) {
            long length = Math.min(chunkBytes, info.byteLength() - done);
            MappedByteBuffer chunk = map(info.fileOffset() + done, length);
            element = decode(info, chunk, out, element);
            NativeArrays.release(chunk); // unmapped now, not at the chunk's collection
        }
        return out;
    }

    /**
     * Elements {@code [from, from + count)} of a floating tensor in row-major order, as f32: only their bytes are
     * mapped and read (a window range of captured activations, without the rest of the tensor).
     */
    public float[] readFloats(String name, long from, int count) {
        TensorInfo info = info(name);
        if (from < 0 || count < 0 || from + count > info.elementCount()) {
            throw new InvalidInputException(file + ": elements " + from + ".." + (from + count) + " of tensor '" + name
                    + "' are outside its " + info.elementCount());
        }
        float[] out = new float[count];
        int elementBytes = info.dtype().byteSize();
        MappedByteBuffer chunk = map(info.fileOffset() + from * elementBytes, (long) count * elementBytes);
        decode(info, chunk, out, 0);
        NativeArrays.release(chunk);
        return out;
    }

    private static int decode(TensorInfo info, ByteBuffer bytes, float[] out, int element) {
        bytes.order(ByteOrder.LITTLE_ENDIAN);
        switch (info.dtype()) {
            case F32 -> {
                int count = bytes.remaining() / 4;
                bytes.asFloatBuffer().get(out, element, count);
                return element + count;
            }
            case F16 -> {
                while (bytes.remaining() >= 2) {
                    out[element++] = HalfPrecision.f16ToFloat(bytes.getShort());
                }
                return element;
            }
            case BF16 -> {
                while (bytes.remaining() >= 2) {
                    out[element++] = HalfPrecision.bf16ToFloat(bytes.getShort());
                }
                return element;
            }
            case F64 -> {
                while (bytes.remaining() >= 8) {
                    out[element++] = (float) bytes.getDouble();
                }
                return element;
            }
            default -> throw new InvalidInputException(info.file() + ": tensor '" + info.name() + "' has dtype "
                    + info.dtype().safetensorsName() + ", expected a floating type (F32, F16, BF16, F64)");
        }
    }

    /** The raw little-endian bytes of a tensor (for integer tensors such as packed weights). */
    public ByteBuffer readBytes(String name) {
        TensorInfo info = info(name);
        if (info.byteLength() > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException(file + ": tensor '" + name + "' is too large to read as one buffer");
        }
        ByteBuffer copy = ByteBuffer.allocate((int) info.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
        MappedByteBuffer mapped = map(info.fileOffset(), info.byteLength());
        copy.put(mapped);
        NativeArrays.release(mapped);
        return copy.flip();
    }

    private MappedByteBuffer map(long offset, long length) {
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, offset, length);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(file + ": cannot map bytes " + offset + ".." + (offset + length), e);
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static long size(Path file, FileChannel channel) {
        try {
            return channel.size();
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read size: " + e.getMessage(), e);
        }
    }

    private static ByteBuffer readFully(Path file, FileChannel channel, long position, int length) {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        try {
            while (buffer.hasRemaining()) {
                if (channel.read(buffer, position + buffer.position()) < 0) {
                    throw corrupt(file, "header", "unexpected end of file");
                }
            }
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        return buffer.flip();
    }

    private static InvalidInputException corrupt(Path file, String field, String problem) {
        return new InvalidInputException(file + ": corrupt safetensors (" + field + "): " + problem);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no detail";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing useful to do; the file was only read
        }
    }
}
