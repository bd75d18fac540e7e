package dev.cherryq.core.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.format.HalfPrecision;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.format.TensorSource;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaGgufExport;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.selection.CherrySet;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The quantized model as written to disk, in two forms in one HF folder:
 * <ul>
 *   <li>{@value #PACKED_FILE}, the deployable form. Per decoder linear weight {@code W} (rows x columns):
 *       {@code W.qweight} I32, the b-bit codes of all positions row-major, packed LSB first ({@link BitPacking});
 *       {@code W.scales} F16 (rows, groups); {@code W.qzeros} I32 (rows, groups) for asym; and when there are
 *       cherries {@code W.cherry_indices} I32 (rows, k) and {@code W.cherry_values} F16 (rows, k). Every other
 *       tensor (embeddings, norms, lm_head) is stored F32.</li>
 *   <li>model.safetensors, the same model dequantized to dense F32 so any HF loader can evaluate it. It is computed
 *       from the packed form, so {@link #unpack} reproduces it bit for bit.</li>
 * </ul>
 * config.json carries {@code quantization_config} (method, bits, group size, scheme, cherry fraction, criterion).
 */
public final class PackedModel {

    public static final String PACKED_FILE = "cherryq-packed.safetensors";

    /** Storage cost of the quantized linear weights. */
    public record Summary(long linearWeights, long storedBits, long cherries) {
        /** Bits per linear weight, counting codes, scales, zero points and cherries (index + value). */
        public double effectiveBits() {
            return (double) storedBits / linearWeights;
        }
    }

    private PackedModel() {}

    /** Quantizes the full-precision weights under the spec, keeping the cherries, and writes both forms. */
    public static Summary write(Path folder, LlamaConfig config, TensorSource weights, QuantSpec spec, CherrySet cherries,
            ObjectNode quantizationConfig, Map<String, String> metadata, Progress progress) {
        Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(config));
        List<LlamaTensorNames.NamedShape> expected = LlamaTensorNames.expected(config);
        List<TensorData> packed = new ArrayList<>();
        List<TensorData> dense = new ArrayList<>();
        long linearWeights = 0;
        long storedBits = 0;
        long cherryCount = 0;
        int done = 0;
        for (LlamaTensorNames.NamedShape tensor : expected) {
            String name = tensor.name();
            float[] values = weights.readFloats(name);
            if (!linear.contains(name)) {
                packed.add(TensorData.ofFloats(name, DType.F32, tensor.shape(), values));
                dense.add(TensorData.ofFloats(name, DType.F32, tensor.shape(), values));
                continue;
            }
            int rows = (int) tensor.shape()[0];
            int columns = (int) tensor.shape()[1];
            CherrySet.Layer layer = cherries.layers().get(name);
            boolean[] mask = layer == null || layer.perRow() == 0 ? null : layer.mask();
            QuantizedMatrix quantized = GroupQuantizer.quantize(values, rows, columns, spec, mask, true);
            float[] restored = quantized.dequantize();
            int groups = spec.groupsPerRow(columns);
            int[] codes = BitPacking.pack(quantized.codes(), spec.bits());
            packed.add(TensorData.ofInts(name + ".qweight", new long[] {codes.length}, codes));
            packed.add(TensorData.ofFloats(name + ".scales", DType.F16, new long[] {rows, groups}, quantized.scales()));
            storedBits += (long) codes.length * 32 + (long) rows * groups * 16;
            if (spec.scheme() == QuantScheme.ASYM) {
                int[] zeros = new int[quantized.zeroPoints().length];
                for (int i = 0; i < zeros.length; i++) {
                    zeros[i] = (int) quantized.zeroPoints()[i];
                }
                packed.add(TensorData.ofInts(name + ".qzeros", new long[] {rows, groups}, zeros));
                storedBits += (long) zeros.length * 32;
            }
            if (mask != null) {
                // cherries keep their value, stored as f16; the dense form takes exactly that value
                float[] cherryValues = new float[layer.columns().length];
                for (int row = 0; row < rows; row++) {
                    for (int j = 0; j < layer.perRow(); j++) {
                        int index = row * columns + layer.columns()[row * layer.perRow() + j];
                        float value = HalfPrecision.roundToF16(values[index]);
                        cherryValues[row * layer.perRow() + j] = value;
                        restored[index] = value;
                    }
                }
                long[] cherryShape = {rows, layer.perRow()};
                packed.add(TensorData.ofInts(name + ".cherry_indices", cherryShape, layer.columns()));
                packed.add(TensorData.ofFloats(name + ".cherry_values", DType.F16, cherryShape, cherryValues));
                storedBits += (long) cherryValues.length * (32 + 16);
                cherryCount += cherryValues.length;
            }
            dense.add(TensorData.ofFloats(name, DType.F32, tensor.shape(), restored));
            linearWeights += (long) rows * columns;
            progress.update(++done, linear.size(), name);
        }
        Summary summary = new Summary(linearWeights, storedBits, cherryCount);
        ObjectNode extra = quantizationConfig.deepCopy();
        ObjectNode quantization = (ObjectNode) extra.get("quantization_config");
        quantization.put("packed_file", PACKED_FILE);
        quantization.put("effective_bits_per_weight", summary.effectiveBits());
        HfModelWriter.write(folder, config, extra, dense, metadata, Long.MAX_VALUE);
        Map<String, String> packedMetadata = new LinkedHashMap<>(metadata);
        packedMetadata.put("cherryq.quantization_config", quantization.toString());
        SafetensorsWriter.write(folder.resolve(PACKED_FILE), packedMetadata, packed);
        return summary;
    }

    /** Rebuilds every tensor, dense F32, from the packed file of a folder written by {@link #write}. */
    public static Map<String, float[]> unpack(Path folder) {
        return unpack(folder, true);
    }

    /**
     * Rebuilds every tensor, dense F32, from the packed file; without cherries, each cherry position holds its
     * code's level (the grid alone: what a format with no place for cherries can store).
     */
    public static Map<String, float[]> unpack(Path folder, boolean withCherries) {
        LlamaConfig config = LlamaConfig.read(folder.resolve(LlamaConfig.CONFIG_FILE));
        QuantSpec spec = specOf(folder);
        Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(config));
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafetensorsFile packed = SafetensorsFile.open(folder.resolve(PACKED_FILE))) {
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                String name = tensor.name();
                if (!linear.contains(name)) {
                    out.put(name, packed.readFloats(name));
                    continue;
                }
                int rows = (int) tensor.shape()[0];
                int columns = (int) tensor.shape()[1];
                int[] codes = BitPacking.unpack(ints(packed, name + ".qweight"), spec.bits(), rows * columns);
                float[] scales = packed.readFloats(name + ".scales");
                float[] zeros = null;
                if (spec.scheme() == QuantScheme.ASYM) {
                    int[] zeroCodes = ints(packed, name + ".qzeros");
                    zeros = new float[zeroCodes.length];
                    for (int i = 0; i < zeros.length; i++) {
                        zeros[i] = zeroCodes[i];
                    }
                }
                float[] restored = new QuantizedMatrix(spec, rows, columns, codes, scales, zeros).dequantize();
                if (withCherries && packed.contains(name + ".cherry_indices")) {
                    int[] indices = ints(packed, name + ".cherry_indices");
                    float[] values = packed.readFloats(name + ".cherry_values");
                    int perRow = indices.length / rows;
                    for (int row = 0; row < rows; row++) {
                        for (int j = 0; j < perRow; j++) {
                            restored[row * columns + indices[row * perRow + j]] = values[row * perRow + j];
                        }
                    }
                }
                out.put(name, restored);
            }
        }
        return out;
    }

    /**
     * Whether a format is exactly a GGUF block type: GPTQ's symmetric grid ({@code sym}) in groups of 32 holds levels
     * k * s, k in -2^(b-1)..2^(b-1)-1, with an f16 scale per group: at 4 bits Q4_0's block ((q - 8) * d), at 8 bits
     * Q8_0's (q * d).
     */
    public static boolean storesExactly(QuantSpec spec, GgmlType type) {
        return spec.scheme() == QuantScheme.SYM && spec.groupSize() == type.blockSize()
                && (type == GgmlType.Q4_0 && spec.bits() == 4 || type == GgmlType.Q8_0 && spec.bits() == 8);
    }

    /**
     * A packed folder's linear weights as a GGUF export stores them exactly in {@code type} (without cherries, with
     * their group scales), or null when the folder is not packed or its format is not exactly that type.
     */
    public static LlamaGgufExport.Grid ggufGrid(Path folder, GgmlType type) {
        if (!Files.isDirectory(folder) || !isPacked(folder) || !storesExactly(specOf(folder), type)) {
            return null;
        }
        LlamaConfig config = LlamaConfig.read(folder.resolve(LlamaConfig.CONFIG_FILE));
        Map<String, float[]> values = new LinkedHashMap<>(unpack(folder, false));
        Map<String, float[]> scales = new LinkedHashMap<>();
        Map<String, Long> cherries = new LinkedHashMap<>();
        Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(config);
        try (SafetensorsFile packed = SafetensorsFile.open(folder.resolve(PACKED_FILE))) {
            for (String name : shapes.keySet()) {
                scales.put(name, packed.readFloats(name + ".scales"));
                if (packed.contains(name + ".cherry_indices")) {
                    // the cherries whose kept value is not their code's level: what the grid drops
                    int[] indices = ints(packed, name + ".cherry_indices");
                    float[] kept = packed.readFloats(name + ".cherry_values");
                    float[] grid = values.get(name);
                    int columns = (int) shapes.get(name)[1];
                    int perRow = indices.length / (int) shapes.get(name)[0];
                    long dropped = 0;
                    for (int i = 0; i < indices.length; i++) {
                        dropped += grid[(i / perRow) * columns + indices[i]] == kept[i] ? 0 : 1;
                    }
                    cherries.put(name, dropped);
                }
            }
        }
        values.keySet().retainAll(scales.keySet());
        return new LlamaGgufExport.Grid(values, scales, cherries);
    }

    /** The quantization format recorded in a folder's config.json. */
    public static QuantSpec specOf(Path folder) {
        Path configFile = folder.resolve(LlamaConfig.CONFIG_FILE);
        JsonNode quantization = InputFiles.readJson(configFile, "an HF config.json").get("quantization_config");
        if (quantization == null || !quantization.has("bits")) {
            throw new InvalidInputException(configFile + ": no quantization_config with bits, group_size and scheme");
        }
        return new QuantSpec(quantization.get("bits").asInt(), quantization.path("group_size").asInt(),
                QuantScheme.parse(quantization.path("scheme").asText()));
    }

    /** The effective bits per linear weight recorded in a folder's config.json by {@link #write}. */
    public static double effectiveBitsOf(Path folder) {
        Path configFile = folder.resolve(LlamaConfig.CONFIG_FILE);
        JsonNode bits = InputFiles.readJson(configFile, "an HF config.json").path("quantization_config")
                .path("effective_bits_per_weight");
        if (!bits.isNumber()) {
            throw new InvalidInputException(configFile + ": no quantization_config.effective_bits_per_weight");
        }
        return bits.asDouble();
    }

    public static boolean isPacked(Path folder) {
        return Files.isRegularFile(folder.resolve(PACKED_FILE));
    }

    private static int[] ints(SafetensorsFile file, String name) {
        ByteBuffer bytes = file.readBytes(name).order(ByteOrder.LITTLE_ENDIAN);
        int[] values = new int[bytes.remaining() / 4];
        bytes.asIntBuffer().get(values);
        return values;
    }

    /** The {@code quantization_config} entry describing a method and format. */
    public static ObjectNode quantizationConfig(String method, QuantSpec spec, CherrySet cherries) {
        ObjectNode extra = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        ObjectNode quantization = extra.putObject("quantization_config");
        quantization.put("quant_method", "cherryq");
        quantization.put("method", method);
        quantization.put("bits", spec.bits());
        quantization.put("group_size", spec.groupSize());
        quantization.put("scheme", spec.scheme().cliName());
        quantization.put("cherry_fraction", cherries.isEmpty() ? 0 : cherries.fraction());
        quantization.put("criterion", cherries.isEmpty() ? "none" : cherries.criterion().cliName());
        quantization.put("cherries", cherries.totalCherries());
        quantization.putArray("modules").add("q_proj").add("k_proj").add("v_proj").add("o_proj").add("gate_proj")
                .add("up_proj").add("down_proj");
        return extra;
    }
}
