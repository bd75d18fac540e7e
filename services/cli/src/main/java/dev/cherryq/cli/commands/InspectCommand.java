package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.cli.console.OutputFormat;
import dev.cherryq.core.format.GgufFile;
import dev.cherryq.core.format.TensorInfo;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.launcher.Json;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq inspect}: architecture, parameter count, tensors and memory footprint of a model, a quantized folder
 * (its scheme, bits, group size, cherries and effective bits) or a GGUF export (its ggml types and stored bits per
 * weight, read by {@link GgufFile}).
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Prints the architecture, parameter count, per-tensor dtype and shape, and memory footprint of",
                "an HF folder, a llama2.c .bin, a folder written by 'cherryq quantize' (scheme, bits, group size,",
                "cherries, effective bits per weight) or a GGUF file (ggml type per tensor, size on disk, bits per",
                "linear weight and overall)."})
public final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", description = "HF model folder, llama2.c .bin checkpoint, quantized folder or .gguf file")
    Path model;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Override
    public Integer call() throws IOException {
        if (GgufFile.isGguf(model)) {
            inspectGguf(GgufFile.read(model));
            return 0;
        }
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            LlamaConfig c = checkpoint.config();
            long storedBytes = 0;
            Map<String, Long> bytesByDtype = new TreeMap<>();
            ArrayNode tensors = Json.MAPPER.createArrayNode();
            for (String name : checkpoint.tensors().tensorNames()) {
                TensorInfo info = checkpoint.tensors().info(name);
                storedBytes += info.byteLength();
                bytesByDtype.merge(info.dtype().safetensorsName(), info.byteLength(), Long::sum);
                ObjectNode tensor = tensors.addObject();
                tensor.put("name", name);
                tensor.put("dtype", info.dtype().safetensorsName());
                ArrayNode shape = tensor.putArray("shape");
                for (long dim : info.shape()) {
                    shape.add(dim);
                }
                tensor.put("bytes", info.byteLength());
            }
            JsonNode quantization = quantizationConfig(checkpoint);
            Path packed = model.resolve(PackedModel.PACKED_FILE);
            long packedBytes = quantization != null && Files.isRegularFile(packed) ? Files.size(packed) : 0;
            PrintWriter out = spec.commandLine().getOut();
            if (format == OutputFormat.json) {
                ObjectNode json = Json.object();
                json.put("path", model.toString());
                json.put("format", checkpoint.format());
                json.set("config", c.toHfJson());
                json.put("parameters", c.parameterCount());
                json.put("stored_bytes", storedBytes);
                json.put("f32_runtime_bytes", c.parameterCount() * 4);
                if (quantization != null) {
                    json.set("quantization_config", quantization);
                }
                if (packedBytes > 0) {
                    json.put("packed_file_bytes", packedBytes);
                    json.put("packed_bits_per_weight", 8.0 * packedBytes / c.parameterCount());
                }
                json.set("tensors", tensors);
                out.println(Json.line(json));
                return 0;
            }
            out.printf("model        %s (%s)%n", model, checkpoint.format());
            out.printf("architecture %s: %d layers, hidden %d, intermediate %d, heads %d (kv %d, head_dim %d)%n",
                    c.family().architecture().hfName(), c.numberOfLayers(), c.hiddenSize(), c.intermediateSize(), c.numberOfHeads(), c.numberOfKeyValueHeads(),
                    c.headDim());
            out.printf("             vocab %d, max positions %d, rope_theta %s, rms_norm_eps %s, %s embeddings%n",
                    c.vocabSize(), c.maxPositionEmbeddings(), c.ropeTheta(), c.rmsNormEps(),
                    c.tieWordEmbeddings() ? "tied" : "untied");
            out.printf("from LLaMA-2 %s%n", c.family().differences());
            out.printf("parameters   %,d%n", c.parameterCount());
            out.printf("memory       stored %s (%s); f32 at run time %s%n", human(storedBytes), bytesByDtype,
                    human(c.parameterCount() * 4));
            if (quantization != null) {
                out.printf("quantization %s %d-bit g%d %s, %s cherries (%s, fraction %s), packed: %s%n",
                        quantization.path("method").asText(), quantization.path("bits").asInt(),
                        quantization.path("group_size").asInt(), quantization.path("scheme").asText(),
                        quantization.path("cherries").asText("0"), quantization.path("criterion").asText("none"),
                        quantization.path("cherry_fraction").asText("0"), quantization.path("packed_file").asText("none"));
                if (quantization.has("effective_bits_per_weight")) {
                    out.printf("             %.3f effective bits per linear weight (codes, f16 scales, zero points, "
                            + "cherry indices and f16 values)%n", quantization.get("effective_bits_per_weight").asDouble());
                }
                if (packedBytes > 0) {
                    out.printf("             packed file %s on disk: %.3f bits per weight overall (every tensor, "
                            + "embeddings and norms included)%n", human(packedBytes), 8.0 * packedBytes / c.parameterCount());
                }
            }
            out.printf("%-52s %-5s %s%n", "tensor", "dtype", "shape");
            for (JsonNode tensor : tensors) {
                out.printf("%-52s %-5s %s%n", tensor.get("name").asText(), tensor.get("dtype").asText(), tensor.get("shape"));
            }
        }
        return 0;
    }

    /** A GGUF file: architecture, size on disk, stored bits per weight, and each tensor's ggml type and shape. */
    private void inspectGguf(GgufFile gguf) {
        PrintWriter out = spec.commandLine().getOut();
        double linearBits = gguf.bitsPerWeight(GgufFile::isLinearWeight);
        double allBits = gguf.bitsPerWeight(tensor -> true);
        long parameters = gguf.tensors().stream().mapToLong(GgufFile.Tensor::elements).sum();
        Map<String, Long> tensorsByType = new TreeMap<>();
        gguf.tensors().forEach(tensor -> tensorsByType.merge(tensor.typeName(), 1L, Long::sum));
        if (format == OutputFormat.json) {
            ObjectNode json = Json.object();
            json.put("path", model.toString());
            json.put("format", "gguf");
            json.put("version", gguf.version());
            json.put("architecture", gguf.architecture());
            json.put("file_bytes", gguf.fileBytes());
            json.put("parameters", parameters);
            json.put("linear_bits_per_weight", linearBits);
            json.put("bits_per_weight", allBits);
            ArrayNode tensors = json.putArray("tensors");
            for (GgufFile.Tensor tensor : gguf.tensors()) {
                ObjectNode entry = tensors.addObject();
                entry.put("name", tensor.name());
                entry.put("type", tensor.typeName());
                ArrayNode shape = entry.putArray("shape");
                for (long dimension : tensor.shape()) {
                    shape.add(dimension);
                }
                entry.put("bytes", tensor.bytes());
            }
            out.println(Json.line(json));
            return;
        }
        out.printf("model        %s (GGUF v%d, %s on disk)%n", model, gguf.version(), human(gguf.fileBytes()));
        out.printf("architecture %s (llama.cpp), name %s, file_type %s%n", gguf.architecture(),
                gguf.metadata().getOrDefault("general.name", "-"), gguf.metadata().getOrDefault("general.file_type", "-"));
        out.printf("parameters   %,d in %d tensors %s%n", parameters, gguf.tensors().size(), tensorsByType);
        out.printf("bits         %.3f per linear weight (blk.N attn_q/k/v/output, ffn_gate/up/down, block scales "
                + "included); %.3f per weight over every tensor%n", linearBits, allBits);
        out.printf("%-40s %-6s %s%n", "tensor", "type", "shape");
        for (GgufFile.Tensor tensor : gguf.tensors()) {
            out.printf("%-40s %-6s %s%n", tensor.name(), tensor.typeName(), java.util.Arrays.toString(tensor.shape()));
        }
    }

    private JsonNode quantizationConfig(LlamaCheckpoint checkpoint) throws IOException {
        Path config = model.resolve(LlamaConfig.CONFIG_FILE);
        if (!Files.isDirectory(model) || !Files.isRegularFile(config)) {
            return null;
        }
        return dev.cherryq.core.InputFiles.readJson(config, "an HF config.json").get("quantization_config");
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format("%.1f %s", value, units[unit]);
    }
}
