package dev.cherryq.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.format.InMemoryTensors;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Small random LLaMA-style checkpoints for tests that must run without ../shared. */
public final class RandomLlama {

    /** The hand-written family configs under test resources families/NAME/config.json (see its README.md). */
    public static final List<String> FAMILIES = List.of("llama-3.2", "mistral", "qwen2.5", "qwen3");

    private static final ObjectMapper JSON = new ObjectMapper();

    private RandomLlama() {}

    /** A family's test config.json as JSON, to edit before writing (e.g. a larger vocabulary). */
    public static ObjectNode familyConfigJson(String family) {
        String resource = "/families/" + family + "/config.json";
        try (InputStream in = RandomLlama.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalArgumentException("no test resource " + resource);
            }
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A family's test config, parsed as config.json is read. */
    public static LlamaConfig family(String family) {
        return LlamaConfig.parse(familyConfigJson(family));
    }

    /** A config parsed from JSON, as config.json is read. */
    public static LlamaConfig parse(JsonNode configJson) {
        return LlamaConfig.parse(configJson);
    }

    /** A GQA model with untied head and head_dim different from hidden/heads, to exercise every path. */
    public static LlamaConfig tinyConfig(boolean tied) {
        return new LlamaConfig(24, 40, 2, 4, 2, 8, 67, 64, 1e-5, 10000.0, tied, 1, 2);
    }

    public static Map<String, float[]> weights(LlamaConfig config, long seed) {
        Random random = new Random(seed);
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            float[] values = new float[(int) dev.cherryq.core.format.TensorInfo.elementCount(tensor.shape())];
            boolean norm = tensor.name().endsWith("norm.weight"); // RMSNorm weights near 1; biases like weights
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? (float) (1 + 0.1 * random.nextGaussian()) : (float) (0.2 * random.nextGaussian());
            }
            weights.put(tensor.name(), values);
        }
        return weights;
    }

    public static InMemoryTensors tensors(LlamaConfig config, Map<String, float[]> weights) {
        InMemoryTensors tensors = new InMemoryTensors(Path.of("random"));
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.put(tensor.name(), tensor.shape(), weights.get(tensor.name()));
        }
        return tensors;
    }
}
