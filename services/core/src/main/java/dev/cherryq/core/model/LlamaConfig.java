package dev.cherryq.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The architecture of a LLaMA-style decoder (the Hugging Face config.json fields LlamaConfig, MistralConfig,
 * Qwen2Config and Qwen3Config share), validated once when read; what the checkpoint's family changes from LLaMA-2
 * (biases, q/k norms, RoPE scaling, attention window) is its {@link ModelFamily}. Grouped-query attention when
 * {@code numberOfKeyValueHeads < numberOfHeads}; {@code headDim} may differ from hiddenSize / numberOfHeads when
 * config.json says so.
 */
public record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int numberOfLayers,
        int numberOfHeads,
        int numberOfKeyValueHeads,
        int headDim,
        int vocabSize,
        int maxPositionEmbeddings,
        double rmsNormEps,
        double ropeTheta,
        boolean tieWordEmbeddings,
        int bosTokenId,
        int eosTokenId,
        ModelFamily family) {

    public static final String CONFIG_FILE = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A plain LLaMA-2 architecture. */
    public LlamaConfig(int hiddenSize, int intermediateSize, int numberOfLayers, int numberOfHeads,
            int numberOfKeyValueHeads, int headDim, int vocabSize, int maxPositionEmbeddings, double rmsNormEps,
            double ropeTheta, boolean tieWordEmbeddings, int bosTokenId, int eosTokenId) {
        this(hiddenSize, intermediateSize, numberOfLayers, numberOfHeads, numberOfKeyValueHeads, headDim, vocabSize,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, tieWordEmbeddings, bosTokenId, eosTokenId,
                ModelFamily.LLAMA_2);
    }

    public LlamaConfig {
        if (family == null) {
            throw new IllegalArgumentException("family is required (ModelFamily.LLAMA_2 for plain LLaMA)");
        }
        require(hiddenSize > 0, "hidden_size", hiddenSize);
        require(intermediateSize > 0, "intermediate_size", intermediateSize);
        require(numberOfLayers > 0, "num_hidden_layers", numberOfLayers);
        require(numberOfHeads > 0, "num_attention_heads", numberOfHeads);
        require(numberOfKeyValueHeads > 0 && numberOfHeads % numberOfKeyValueHeads == 0, "num_key_value_heads",
                numberOfKeyValueHeads);
        require(headDim > 0 && headDim % 2 == 0, "head_dim", headDim);
        require(vocabSize > 0, "vocab_size", vocabSize);
        require(maxPositionEmbeddings > 0, "max_position_embeddings", maxPositionEmbeddings);
        if (!(rmsNormEps > 0)) {
            throw new InvalidInputException("config: rms_norm_eps must be positive, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0)) {
            throw new InvalidInputException("config: rope_theta must be positive, got " + ropeTheta);
        }
    }

    private static void require(boolean ok, String field, int value) {
        if (!ok) {
            throw new InvalidInputException("config: " + field + " = " + value + " is invalid"
                    + (field.equals("num_key_value_heads") ? " (must divide num_attention_heads)" : "")
                    + (field.equals("head_dim") ? " (must be positive and even for RoPE)" : ""));
        }
    }

    /** Query projection width: heads x head size. */
    public int queryDim() {
        return numberOfHeads * headDim;
    }

    /** Key/value projection width: key-value heads x head size. */
    public int keyValueDim() {
        return numberOfKeyValueHeads * headDim;
    }

    /** Query heads that share one key-value head. */
    public int queriesPerKeyValueHead() {
        return numberOfHeads / numberOfKeyValueHeads;
    }

    /** The same architecture as another family (its biases, norms, RoPE and window). */
    public LlamaConfig withFamily(ModelFamily other) {
        return new LlamaConfig(hiddenSize, intermediateSize, numberOfLayers, numberOfHeads, numberOfKeyValueHeads,
                headDim, vocabSize, maxPositionEmbeddings, rmsNormEps, ropeTheta, tieWordEmbeddings, bosTokenId,
                eosTokenId, other);
    }

    public long parameterCount() {
        long perLayer = 2L * hiddenSize // attention and MLP norms
                + (long) queryDim() * hiddenSize * 2 // q and o
                + (long) keyValueDim() * hiddenSize * 2 // k and v
                + 3L * intermediateSize * hiddenSize // gate, up, down
                + (family.queryKeyValueBiases() ? queryDim() + 2L * keyValueDim() : 0) // q, k, v biases
                + (family.queryKeyNorms() ? 2L * headDim : 0); // q and k norms
        long embeddings = (long) vocabSize * hiddenSize;
        return embeddings + numberOfLayers * perLayer + hiddenSize + (tieWordEmbeddings ? 0 : embeddings);
    }

    /** Reads and validates {@code config.json}; every problem names the file and the field. */
    public static LlamaConfig read(Path configFile) {
        if (!Files.exists(configFile)) {
            throw new InvalidInputException(configFile + ": file not found (an HF model folder needs config.json)");
        }
        JsonNode root = InputFiles.readJson(configFile, "an HF config.json");
        if (!root.isObject()) {
            throw new InvalidInputException(configFile + ": not a JSON object");
        }
        try {
            return parse(root);
        } catch (InvalidInputException e) {
            throw new InvalidInputException(configFile + ": " + e.getMessage().replaceFirst("^config: ", ""), e);
        }
    }

    static LlamaConfig parse(JsonNode root) {
        ModelFamily family = ModelFamily.parse(root);
        String activation = root.path("hidden_act").asText("silu");
        if (!activation.equals("silu")) {
            throw new InvalidInputException("hidden_act '" + activation + "' is not supported (supported: silu)");
        }
        int hiddenSize = requiredInt(root, "hidden_size");
        int heads = requiredInt(root, "num_attention_heads");
        int kvHeads = root.has("num_key_value_heads") && !root.get("num_key_value_heads").isNull()
                ? requiredInt(root, "num_key_value_heads") : heads;
        if (heads <= 0) {
            throw new InvalidInputException("num_attention_heads = " + heads + " is invalid");
        }
        if (family.architecture().headDimRequired() && !root.hasNonNull("head_dim")) {
            throw new InvalidInputException("required field 'head_dim' is missing (" + family.architecture().hfName()
                    + " does not derive it from hidden_size / num_attention_heads)");
        }
        int headDim = root.has("head_dim") && !root.get("head_dim").isNull()
                ? requiredInt(root, "head_dim") : hiddenSize / heads;
        if (!root.has("head_dim") && hiddenSize % heads != 0) {
            throw new InvalidInputException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + heads + " and head_dim is not given");
        }
        return new LlamaConfig(
                hiddenSize,
                requiredInt(root, "intermediate_size"),
                requiredInt(root, "num_hidden_layers"),
                heads,
                kvHeads,
                headDim,
                requiredInt(root, "vocab_size"),
                root.path("max_position_embeddings").asInt(2048),
                root.path("rms_norm_eps").asDouble(1e-6),
                root.path("rope_theta").asDouble(root.path("rope_parameters").path("rope_theta").asDouble(10000.0)),
                root.path("tie_word_embeddings").asBoolean(false),
                tokenId(root, "bos_token_id", 1),
                tokenId(root, "eos_token_id", 2),
                family);
    }

    /** A special token id: an integer, or the first of a list (Llama-3.1's eos_token_id), else the default. */
    private static int tokenId(JsonNode root, String field, int fallback) {
        JsonNode node = root.path(field);
        if (node.isArray() && node.size() > 0) {
            node = node.get(0);
        }
        return node.isIntegralNumber() && node.canConvertToInt() ? node.asInt() : fallback;
    }

    private static int requiredInt(JsonNode root, String field) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            throw new InvalidInputException("required field '" + field + "' is missing");
        }
        if (!node.canConvertToInt() || !node.isIntegralNumber()) {
            throw new InvalidInputException("field '" + field + "' must be an integer, got " + node);
        }
        return node.asInt();
    }

    /** The HF {@code config.json} for this architecture and family (weights stored as float32). */
    public ObjectNode toHfJson() {
        ObjectNode root = JSON.createObjectNode();
        family.writeHfJson(root);
        root.put("hidden_size", hiddenSize);
        root.put("intermediate_size", intermediateSize);
        root.put("num_hidden_layers", numberOfLayers);
        root.put("num_attention_heads", numberOfHeads);
        root.put("num_key_value_heads", numberOfKeyValueHeads);
        root.put("head_dim", headDim);
        root.put("vocab_size", vocabSize);
        root.put("max_position_embeddings", maxPositionEmbeddings);
        root.put("rms_norm_eps", rmsNormEps);
        root.put("rope_theta", ropeTheta);
        root.put("tie_word_embeddings", tieWordEmbeddings);
        root.put("bos_token_id", bosTokenId);
        root.put("eos_token_id", eosTokenId);
        root.put("hidden_act", "silu");
        root.put("torch_dtype", "float32");
        return root;
    }
}
