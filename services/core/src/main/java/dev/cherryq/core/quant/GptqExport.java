package dev.cherryq.core.quant;

import dev.cherryq.core.format.OutputFolders;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A packed CherryQ folder ({@link PackedModel}) in the GPTQ "v1" checkpoint layout that AutoGPTQ writes and
 * transformers/optimum, vLLM and others load ({@code quantization_config.quant_method = "gptq"},
 * {@code checkpoint_format = "gptq"}). Per decoder linear layer {@code P} (HF weight [out, in], in = the input
 * features):
 * <ul>
 *   <li>{@code P.qweight} I32 [in / (32 / bits), out]: the codes packed along the input dimension, input
 *       {@code i * (32 / bits) + k} of output j in bits {@code bits * k ..} of word (i, j);</li>
 *   <li>{@code P.qzeros} I32 [groups, out / (32 / bits)]: each group's zero point minus one (the v1 convention),
 *       packed the same way along the output dimension;</li>
 *   <li>{@code P.scales} F16 [groups, out]; {@code P.g_idx} I32 [in], the group of each input ({@code i / group_size},
 *       no act-order);</li>
 * </ul>
 * so that {@code W[j, i] = scales[g, j] * (q[i, j] - (zeros[g, j] + 1))} with {@code g = g_idx[i]}. The codes and
 * scales are the packed folder's own, not re-quantized: GPTQ's grid is an integer code around an integer zero point,
 * which the project's {@code sym} (zero point 2^(b-1)) and {@code asym} (its integer zero point, which must lie in
 * 1..2^b for v1's minus one) schemes are; {@code sym-full} has no zero level and is refused. GPTQ's packing takes 2, 4
 * or 8 bits. Every other tensor (embeddings, norms, biases, lm_head) is stored F16, as GPTQ checkpoints are. GPTQ has
 * no place for cherries: they go to {@value #CHERRY_FILE} (per layer {@code P.weight.cherry_indices} I32 [rows, k],
 * the input index of each cherry in its output row, and {@code P.weight.cherry_values} F16), which GPTQ loaders
 * ignore; config.json names that file. Written under {@code OUT.partial}, then moved into place.
 */
public final class GptqExport {

    public static final String CHERRY_FILE = "cherries.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();

    private GptqExport() {}

    /** What was written: the folder, the layers in GPTQ layout, the cherries put apart. */
    public record Result(Path folder, int layers, long cherries, long bytes) {}

    /** Refuses, in one line, a folder GPTQ's layout cannot hold; returns its format. */
    public static QuantSpec requireExportable(Path folder) {
        if (!Files.isDirectory(folder) || !PackedModel.isPacked(folder)) {
            throw new InvalidInputException(folder + ": the GPTQ export needs a folder written by cherryq quantize (with "
                    + PackedModel.PACKED_FILE + ")");
        }
        QuantSpec spec = PackedModel.specOf(folder);
        requireHolds(folder.toString(), LlamaConfig.read(folder.resolve(LlamaConfig.CONFIG_FILE)), spec);
        return spec;
    }

    /**
     * Refuses, in one line starting with {@code where}, a format GPTQ's layout cannot hold for this architecture
     * (checked on a recipe before any compute, and on a packed folder): sym-full, bits other than 2, 4, 8, or a
     * matrix whose dimensions are not whole words of codes.
     */
    public static void requireHolds(String where, LlamaConfig config, QuantSpec spec) {
        if (spec.scheme() == QuantScheme.SYM_FULL) {
            throw new InvalidInputException(where + ": scheme sym-full has no zero level and is not a GPTQ grid "
                    + "(quantize with --scheme sym or asym for the GPTQ export)");
        }
        if (spec.bits() != 2 && spec.bits() != 4 && spec.bits() != 8) {
            throw new InvalidInputException(where + ": " + spec.bits() + "-bit codes do not pack into GPTQ's int32 "
                    + "words (supported: 2, 4, 8 bits)");
        }
        int pack = 32 / spec.bits();
        for (Map.Entry<String, long[]> entry : LlamaTensorNames.linearWeightShapes(config).entrySet()) {
            long out = entry.getValue()[0];
            long in = entry.getValue()[1];
            if (in % pack != 0 || out % pack != 0) {
                throw new InvalidInputException(where + ": " + entry.getKey() + " is [" + out + ", " + in + "], and "
                        + "GPTQ packs " + pack + " codes a word along both dimensions");
            }
        }
    }

    /** Writes {@code out} from the packed folder {@code folder}; {@code tokenizer} (may be null) is copied along. */
    public static Result write(Path folder, Path tokenizer, Path out) {
        QuantSpec spec = requireExportable(folder);
        dev.cherryq.core.model.HfDenseExport.requireFreshOutput(out);
        LlamaConfig config = LlamaConfig.read(folder.resolve(LlamaConfig.CONFIG_FILE));
        Set<String> linear = LlamaTensorNames.linearWeightShapes(config).keySet();
        Path partial = out.resolveSibling(out.getFileName() + ".partial");
        long cherries = 0;
        try (SafetensorsFile packed = SafetensorsFile.open(folder.resolve(PackedModel.PACKED_FILE))) {
            OutputFolders.deleteRecursively(partial);
            List<TensorData> tensors = new ArrayList<>();
            List<TensorData> cherryTensors = new ArrayList<>();
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                String name = tensor.name();
                if (!linear.contains(name)) {
                    tensors.add(new TensorData(name, DType.F16, tensor.shape(), () -> TensorData.ofFloats(name,
                            DType.F16, tensor.shape(), packed.readFloats(name)).bytes().get()));
                    continue;
                }
                int rows = (int) tensor.shape()[0];
                int columns = (int) tensor.shape()[1];
                String module = name.substring(0, name.length() - ".weight".length());
                Layer layer = layer(packed, spec, name, rows, columns);
                tensors.add(TensorData.ofInts(module + ".qweight", new long[] {columns / layer.pack, rows},
                        layer.qweight));
                tensors.add(TensorData.ofInts(module + ".qzeros", new long[] {layer.groups, rows / layer.pack},
                        layer.qzeros));
                tensors.add(TensorData.ofFloats(module + ".scales", DType.F16, new long[] {layer.groups, rows},
                        layer.scales));
                tensors.add(TensorData.ofInts(module + ".g_idx", new long[] {columns}, layer.groupOfInput));
                if (packed.contains(name + ".cherry_indices")) {
                    int[] indices = ints(packed, name + ".cherry_indices");
                    long[] shape = {rows, indices.length / rows};
                    cherryTensors.add(TensorData.ofInts(name + ".cherry_indices", shape, indices));
                    cherryTensors.add(TensorData.ofFloats(name + ".cherry_values", DType.F16, shape,
                            packed.readFloats(name + ".cherry_values")));
                    cherries += indices.length;
                }
            }
            ObjectNode extra = JSON.createObjectNode();
            ObjectNode quantization = extra.putObject("quantization_config");
            quantization.put("quant_method", "gptq");
            quantization.put("checkpoint_format", "gptq");
            quantization.put("bits", spec.bits());
            quantization.put("group_size", spec.groupSize() == QuantSpec.WHOLE_ROW ? -1 : spec.groupSize());
            quantization.put("desc_act", false);
            quantization.put("sym", spec.scheme() == QuantScheme.SYM);
            quantization.put("true_sequential", true);
            if (!cherryTensors.isEmpty()) {
                quantization.put("cherryq_cherries", CHERRY_FILE);
                quantization.put("cherryq_note", "the " + cherries + " cherries (f16 values kept apart from the "
                        + "grid) are in " + CHERRY_FILE + "; GPTQ loaders ignore them");
            }
            HfModelWriter.write(partial, config, extra, tensors, Map.of("format", "pt"), Long.MAX_VALUE);
            // HfModelWriter names the weights' dtype after the first tensor (the F16 embeddings): torch_dtype float16
            if (!cherryTensors.isEmpty()) {
                SafetensorsWriter.write(partial.resolve(CHERRY_FILE), Map.of("cherryq.note", "cherries of the GPTQ "
                        + "layout: input index per output row, f16 value"), cherryTensors);
            }
            Path tokenizerFile = tokenizer;
            if (tokenizerFile == null) {
                for (String candidate : List.of("tokenizer.json", "tokenizer.bin")) {
                    if (Files.isRegularFile(folder.resolve(candidate))) {
                        tokenizerFile = folder.resolve(candidate);
                        break;
                    }
                }
            }
            if (tokenizerFile != null) {
                HfModelWriter.copyTokenizer(tokenizerFile, partial);
            }
            Files.deleteIfExists(out); // an empty folder (checked above)
            Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
            long bytes;
            try (Stream<Path> files = Files.list(out)) {
                bytes = files.filter(file -> file.toString().endsWith(".safetensors"))
                        .mapToLong(file -> file.toFile().length()).sum();
            }
            return new Result(out, linear.size(), cherries, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the GPTQ folder " + out, e);
        } finally {
            try {
                OutputFolders.deleteRecursively(partial);
            } catch (IOException ignored) {
                // a failed write leaves at most OUT.partial
            }
        }
    }

    /** One layer in GPTQ's layout, from the packed folder's codes, scales and zero points. */
    private record Layer(int pack, int groups, int[] qweight, int[] qzeros, float[] scales, int[] groupOfInput) {}

    private static Layer layer(SafetensorsFile packed, QuantSpec spec, String name, int rows, int columns) {
        int bits = spec.bits();
        int pack = 32 / bits;
        int groupLength = spec.groupLength(columns);
        int groups = spec.groupsPerRow(columns);
        int[] codes = BitPacking.unpack(ints(packed, name + ".qweight"), bits, rows * columns); // [out, in]
        float[] ourScales = packed.readFloats(name + ".scales"); // [out, groups], f16 values
        int[] zeros = new int[rows * groups]; // [out, groups]
        if (spec.scheme() == QuantScheme.ASYM) {
            zeros = ints(packed, name + ".qzeros");
        } else {
            java.util.Arrays.fill(zeros, spec.levels() / 2); // sym: code - 2^(b-1)
        }
        int[] qweight = new int[columns / pack * rows]; // [in / pack, out]
        for (int j = 0; j < rows; j++) {
            for (int i = 0; i < columns; i++) {
                qweight[(i / pack) * rows + j] |= codes[j * columns + i] << (bits * (i % pack));
            }
        }
        int[] qzeros = new int[groups * (rows / pack)]; // [groups, out / pack]
        float[] scales = new float[groups * rows]; // [groups, out]
        for (int j = 0; j < rows; j++) {
            for (int g = 0; g < groups; g++) {
                int stored = zeros[j * groups + g] - 1; // v1: the zero point minus one
                if (stored < 0 || stored >= spec.levels()) {
                    throw new InvalidInputException(name + ": group " + g + " of row " + j + " has zero point "
                            + (stored + 1) + ", which GPTQ's v1 layout cannot store (1.." + spec.levels() + ")");
                }
                qzeros[g * (rows / pack) + j / pack] |= stored << (bits * (j % pack));
                scales[g * rows + j] = ourScales[j * groups + g];
            }
        }
        int[] groupOfInput = new int[columns];
        for (int i = 0; i < columns; i++) {
            groupOfInput[i] = i / groupLength;
        }
        return new Layer(pack, groups, qweight, qzeros, scales, groupOfInput);
    }

    private static int[] ints(SafetensorsFile file, String name) {
        ByteBuffer bytes = file.readBytes(name).order(ByteOrder.LITTLE_ENDIAN);
        int[] values = new int[bytes.remaining() / 4];
        bytes.asIntBuffer().get(values);
        return values;
    }
}
