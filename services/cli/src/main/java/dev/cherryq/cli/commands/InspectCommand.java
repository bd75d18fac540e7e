package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.cli.console.OutputFormat;
import dev.cherryq.core.format.TensorInfo;
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

/** {@code cherryq inspect}: architecture, parameter count, tensors and memory footprint of a model. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Prints the architecture, parameter count, per-tensor dtype and shape, and memory footprint.")
public final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", description = "HF model folder or llama2.c .bin checkpoint")
    Path model;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Override
    public Integer call() throws IOException {
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
            }
            out.printf("%-52s %-5s %s%n", "tensor", "dtype", "shape");
            for (JsonNode tensor : tensors) {
                out.printf("%-52s %-5s %s%n", tensor.get("name").asText(), tensor.get("dtype").asText(), tensor.get("shape"));
            }
        }
        return 0;
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
