package dev.cherryq.core.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.ShardedSafetensors;
import dev.cherryq.core.format.TensorData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a Hugging Face LLaMA folder: config.json plus model.safetensors, or numbered shards with
 * model.safetensors.index.json once the weights exceed the shard size (the layout of save_pretrained).
 */
public final class HfModelWriter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfModelWriter() {}

    /**
     * @param extraConfig fields merged into config.json (e.g. quantization_config); may be empty
     * @param maxShardBytes shard size limit; Long.MAX_VALUE for a single file
     */
    public static void write(Path folder, LlamaConfig config, ObjectNode extraConfig, List<TensorData> tensors,
            Map<String, String> metadata, long maxShardBytes) {
        try {
            Files.createDirectories(folder);
            ObjectNode configJson = config.toHfJson();
            String dtype = tensors.isEmpty() ? "float32" : torchDtype(tensors.get(0).dtype());
            configJson.put("torch_dtype", dtype);
            if (extraConfig != null) {
                configJson.setAll(extraConfig);
            }
            Files.writeString(folder.resolve(LlamaConfig.CONFIG_FILE),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(configJson) + "\n");
            Map<String, String> fileMetadata = new LinkedHashMap<>(metadata);
            fileMetadata.putIfAbsent("format", "pt");
            List<List<TensorData>> shards = split(tensors, maxShardBytes);
            Files.deleteIfExists(folder.resolve(ShardedSafetensors.INDEX_FILE));
            Files.deleteIfExists(folder.resolve(LlamaCheckpoint.SAFETENSORS_FILE));
            if (shards.size() == 1) {
                SafetensorsWriter.write(folder.resolve(LlamaCheckpoint.SAFETENSORS_FILE), fileMetadata, shards.get(0));
                return;
            }
            ObjectNode index = JSON.createObjectNode();
            long total = tensors.stream().mapToLong(TensorData::byteLength).sum();
            index.putObject("metadata").put("total_size", total);
            ObjectNode weightMap = index.putObject("weight_map");
            for (int i = 0; i < shards.size(); i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                SafetensorsWriter.write(folder.resolve(name), fileMetadata, shards.get(i));
                for (TensorData tensor : shards.get(i)) {
                    weightMap.put(tensor.name(), name);
                }
            }
            Files.writeString(folder.resolve(ShardedSafetensors.INDEX_FILE),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write model folder " + folder, e);
        }
    }

    /** Copies a tokenizer file into the folder under its canonical name (tokenizer.json or tokenizer.bin). */
    public static void copyTokenizer(Path tokenizer, Path folder) {
        String name = tokenizer.getFileName().toString().endsWith(".json") ? "tokenizer.json" : "tokenizer.bin";
        try {
            Files.copy(tokenizer, folder.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy tokenizer " + tokenizer + " into " + folder, e);
        }
    }

    private static List<List<TensorData>> split(List<TensorData> tensors, long maxShardBytes) {
        List<List<TensorData>> shards = new ArrayList<>();
        List<TensorData> current = new ArrayList<>();
        long currentBytes = 0;
        for (TensorData tensor : tensors) {
            if (!current.isEmpty() && currentBytes + tensor.byteLength() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(tensor);
            currentBytes += tensor.byteLength();
        }
        shards.add(current);
        return shards;
    }

    private static String torchDtype(DType dtype) {
        return switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        };
    }
}
