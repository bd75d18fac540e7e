package dev.cherryq.core.format;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint split over several safetensors shards, located through {@code model.safetensors.index.json}
 * (its {@code weight_map} names the shard of every tensor), as Hugging Face's save_pretrained writes it.
 */
public final class ShardedSafetensors implements TensorSource {

    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Map<String, SafetensorsFile> shardOfTensor;
    private final List<SafetensorsFile> shards;

    private ShardedSafetensors(Map<String, SafetensorsFile> shardOfTensor, List<SafetensorsFile> shards) {
        this.shardOfTensor = shardOfTensor;
        this.shards = shards;
    }

    public static ShardedSafetensors open(Path indexFile) {
        JsonNode index = InputFiles.readJson(indexFile, ShardedSafetensors.INDEX_FILE);
        JsonNode weightMap = index.get("weight_map");
        if (weightMap == null || !weightMap.isObject() || weightMap.size() == 0) {
            throw new InvalidInputException(indexFile + ": field 'weight_map' is missing or empty");
        }
        Map<String, SafetensorsFile> byShardName = new LinkedHashMap<>();
        Map<String, SafetensorsFile> shardOfTensor = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
                String shardName = entry.getValue().asText();
                if (shardName.contains("/") || shardName.contains("\\") || shardName.equals("..")) {
                    throw new InvalidInputException(indexFile + ": weight_map['" + entry.getKey()
                            + "'] names '" + shardName + "', which is not a file in the index's folder");
                }
                SafetensorsFile shard = byShardName.get(shardName);
                if (shard == null) {
                    Path shardFile = indexFile.resolveSibling(shardName);
                    if (!Files.isRegularFile(shardFile)) {
                        throw new InvalidInputException(indexFile + ": weight_map names shard '" + shardName
                                + "', which does not exist");
                    }
                    shard = SafetensorsFile.open(shardFile);
                    byShardName.put(shardName, shard);
                }
                if (!shard.contains(entry.getKey())) {
                    throw new InvalidInputException(indexFile + ": weight_map puts tensor '" + entry.getKey()
                            + "' in " + shardName + ", which does not hold it");
                }
                shardOfTensor.put(entry.getKey(), shard);
            }
        } catch (RuntimeException e) {
            byShardName.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedSafetensors(shardOfTensor, new ArrayList<>(byShardName.values()));
    }

    @Override
    public List<String> tensorNames() {
        return List.copyOf(shardOfTensor.keySet());
    }

    @Override
    public boolean contains(String name) {
        return shardOfTensor.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public float[] readFloats(String name) {
        return shard(name).readFloats(name);
    }

    private SafetensorsFile shard(String name) {
        SafetensorsFile shard = shardOfTensor.get(name);
        if (shard == null) {
            throw new InvalidInputException("sharded checkpoint: tensor '" + name + "' is not in " + INDEX_FILE);
        }
        return shard;
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
