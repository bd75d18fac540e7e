package dev.cherryq.core.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF v3 reader written for the tests from the spec (ggml-org/ggml docs/gguf.md), independent of
 * {@link GgufWriter}: it shares no code with it, and checks what a loader would check (magic, version, alignment,
 * offsets, zero padding, the data section's length).
 */
public final class GgufTestReader {

    /** A tensor info: name, dims in ggml order (ne[0] first), ggml type id, offset in the data section. */
    public record Info(String name, long[] ne, int type, long offset) {
        public long elements() {
            long count = 1;
            for (long n : ne) {
                count *= n;
            }
            return count;
        }
    }

    public final int version;
    public final Map<String, Object> metadata = new LinkedHashMap<>();
    /** The value type of each key (gguf_type id), arrays as 9. */
    public final Map<String, Integer> valueTypes = new LinkedHashMap<>();
    public final Map<String, Integer> arrayElementTypes = new LinkedHashMap<>();
    public final List<Info> tensors = new ArrayList<>();
    public final long dataStart;
    private final ByteBuffer file;

    private GgufTestReader(ByteBuffer file) {
        this.file = file;
        byte[] magic = new byte[4];
        file.get(magic);
        if (!new String(magic, StandardCharsets.US_ASCII).equals("GGUF")) {
            throw new IllegalStateException("bad magic");
        }
        version = file.getInt();
        long tensorCount = file.getLong();
        long kvCount = file.getLong();
        for (long i = 0; i < kvCount; i++) {
            String key = string();
            int type = file.getInt();
            valueTypes.put(key, type);
            if (type == 9) {
                int elementType = file.getInt();
                long length = file.getLong();
                arrayElementTypes.put(key, elementType);
                List<Object> values = new ArrayList<>();
                for (long j = 0; j < length; j++) {
                    values.add(value(elementType));
                }
                metadata.put(key, values);
            } else {
                metadata.put(key, value(type));
            }
        }
        for (long i = 0; i < tensorCount; i++) {
            String name = string();
            int dims = file.getInt();
            long[] ne = new long[dims];
            for (int d = 0; d < dims; d++) {
                ne[d] = file.getLong();
            }
            tensors.add(new Info(name, ne, file.getInt(), file.getLong()));
        }
        long alignment = metadata.containsKey("general.alignment")
                ? ((Number) metadata.get("general.alignment")).longValue() : 32;
        long afterInfos = file.position();
        dataStart = (afterInfos + alignment - 1) / alignment * alignment;
        for (long p = afterInfos; p < dataStart; p++) {
            if (file.get((int) p) != 0) {
                throw new IllegalStateException("non-zero padding before the data section at " + p);
            }
        }
    }

    public static GgufTestReader read(Path path) throws IOException {
        return new GgufTestReader(ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN));
    }

    public int fileLength() {
        return file.capacity();
    }

    public Info tensor(String name) {
        return tensors.stream().filter(t -> t.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no tensor " + name));
    }

    /** The bytes of a tensor, {@code length} long, from the data section. */
    public ByteBuffer data(Info info, long length) {
        return file.slice((int) (dataStart + info.offset()), (int) length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** One byte of the file, for padding checks. */
    public byte byteAt(long position) {
        return file.get((int) position);
    }

    /** Bytes per tensor from the type's definition: F32 4, F16 2, Q4_0 18 per 32, Q8_0 34 per 32. */
    public static long byteLength(int type, long elements) {
        return switch (type) {
            case 0 -> elements * 4;
            case 1 -> elements * 2;
            case 2 -> elements / 32 * 18;
            case 8 -> elements / 32 * 34;
            default -> throw new IllegalArgumentException("type " + type);
        };
    }

    /** Decodes a tensor by the definitions: F32, F16, Q8_0 (d * q), Q4_0 ((q - 8) * d, low nibbles first). */
    public float[] decode(Info info) {
        int count = (int) info.elements();
        ByteBuffer in = data(info, byteLength(info.type(), count));
        float[] out = new float[count];
        switch (info.type()) {
            case 0 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = in.getFloat();
                }
            }
            case 1 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = half(in.getShort());
                }
            }
            case 8 -> {
                for (int block = 0; block < count / 32; block++) {
                    float d = half(in.getShort());
                    for (int j = 0; j < 32; j++) {
                        out[block * 32 + j] = d * in.get();
                    }
                }
            }
            case 2 -> {
                for (int block = 0; block < count / 32; block++) {
                    float d = half(in.getShort());
                    byte[] qs = new byte[16];
                    in.get(qs);
                    for (int j = 0; j < 16; j++) {
                        out[block * 32 + j] = ((qs[j] & 0x0F) - 8) * d;
                        out[block * 32 + j + 16] = (((qs[j] & 0xFF) >> 4) - 8) * d;
                    }
                }
            }
            default -> throw new IllegalArgumentException("type " + info.type());
        }
        return out;
    }

    /** IEEE binary16 to float, written out from the format's definition (not through HalfPrecision). */
    public static float half(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h >> 15) == 1 ? -1 : 1;
        int exponent = (h >> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0) {
            return sign * mantissa * (float) Math.pow(2, -24);
        }
        if (exponent == 31) {
            return mantissa == 0 ? sign * Float.POSITIVE_INFINITY : Float.NaN;
        }
        return sign * (1 + mantissa / 1024f) * (float) Math.pow(2, exponent - 15);
    }

    private String string() {
        long length = file.getLong();
        byte[] bytes = new byte[(int) length];
        file.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private Object value(int type) {
        return switch (type) {
            case 0 -> file.get() & 0xFF;
            case 1 -> (int) file.get();
            case 2 -> file.getShort() & 0xFFFF;
            case 3 -> (int) file.getShort();
            case 4 -> file.getInt() & 0xFFFFFFFFL;
            case 5 -> file.getInt();
            case 6 -> file.getFloat();
            case 7 -> file.get() != 0;
            case 8 -> string();
            case 10, 11 -> file.getLong();
            case 12 -> file.getDouble();
            default -> throw new IllegalStateException("unknown value type " + type);
        };
    }
}
