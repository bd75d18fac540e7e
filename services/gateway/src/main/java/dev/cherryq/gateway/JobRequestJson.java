package dev.cherryq.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.job.RecipeProto;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.proto.v1.EvalSpec;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.QatHyperparameters;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gateway's JSON request body, mapped to a {@link QuantizationRequest}: the recipe fields through core's
 * {@link QuantizationRecipe} (its defaults) and {@link RecipeProto}, the fleet fields with the defaults below. Only the shape is checked here (a JSON object, known fields, right types); ranges and
 * references are the planner's job, so that every semantic problem becomes a FAILED job with its reason.
 */
public final class JobRequestJson {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Field name -> default (null = required); the body may hold only these. Recipe fields take the recipe's. */
    public static final Map<String, Object> FIELDS = new LinkedHashMap<>();

    /** Fleet settings of a request that are not part of the recipe: how the job is cut into tasks. */
    public static final int DEFAULT_CALIBRATION_SHARDS = 4;
    public static final int DEFAULT_SEGMENT_STEPS = 50;
    public static final int DEFAULT_EVAL_WINDOWS_PER_SHARD = 16;
    public static final int DEFAULT_EVAL_BATCH_SIZE = 8;

    static {
        FIELDS.put("model", null);
        FIELDS.put("eval_data", null);
        FIELDS.put("calibration_data", "");
        FIELDS.put("train_data", "");
        FIELDS.putAll(QuantizationRecipe.DEFAULTS.fields());
        FIELDS.put("calibration_shards", DEFAULT_CALIBRATION_SHARDS);
        FIELDS.put("segment_steps", DEFAULT_SEGMENT_STEPS);
        FIELDS.put("eval_windows_per_shard", DEFAULT_EVAL_WINDOWS_PER_SHARD);
        FIELDS.put("eval_batch_size", DEFAULT_EVAL_BATCH_SIZE);
        FIELDS.put("baselines", RequestSettings.BASELINES);
        FIELDS.put("export", "");
        FIELDS.put("idempotency_key", "");
    }

    private JobRequestJson() {}

    /** The recipe fields of a request body, for clients: the inverse of what {@link #parse} reads. */
    public static ObjectNode recipeFields(QuantizationRecipe recipe) {
        ObjectNode body = JSON.createObjectNode();
        recipe.fields().forEach((field, value) -> body.set(field, JSON.valueToTree(value)));
        return body;
    }

    /** Parses a body; throws {@link InvalidInputException} naming the field. {@code jobId} is set by the gateway. */
    public static QuantizationRequest parse(String body, String jobId) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new InvalidInputException("request body is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("request body must be a JSON object");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.containsKey(name)) {
                throw new InvalidInputException("unknown field '" + name + "' (known: " + String.join(", ",
                        FIELDS.keySet()) + ")");
            }
        }
        Fields fields = new Fields(root);
        QuantizationRecipe recipe = new QuantizationRecipe(
                QuantMethod.parse(QuantizationRecipe.METHOD, fields.text(QuantizationRecipe.METHOD)),
                InitMethod.parse(QuantizationRecipe.INIT, fields.text(QuantizationRecipe.INIT)),
                fields.integer(QuantizationRecipe.BITS), fields.integer(QuantizationRecipe.GROUP_SIZE),
                QuantScheme.parse(QuantizationRecipe.SCHEME, fields.text(QuantizationRecipe.SCHEME)),
                SelectionCriterion.parse(QuantizationRecipe.CRITERION, fields.text(QuantizationRecipe.CRITERION)),
                fields.number(QuantizationRecipe.CHERRY_FRACTION),
                fields.integer(QuantizationRecipe.CALIBRATION_SAMPLES),
                new QuantizationRecipe.Training(fields.integer(QuantizationRecipe.STEPS),
                        fields.integer(QuantizationRecipe.BATCH_SIZE), fields.integer(QuantizationRecipe.GRAD_ACCUM),
                        (float) fields.number(QuantizationRecipe.LEARNING_RATE),
                        fields.number(QuantizationRecipe.WARMUP_FRACTION),
                        fields.number(QuantizationRecipe.FLOOR_FRACTION),
                        (float) fields.number(QuantizationRecipe.WEIGHT_DECAY),
                        (float) fields.number(QuantizationRecipe.GRADIENT_CLIP),
                        TrainingLoss.parse(QuantizationRecipe.LOSS, fields.text(QuantizationRecipe.LOSS)),
                        fields.integer(QuantizationRecipe.VALIDATION_WINDOWS),
                        (float) fields.number(QuantizationRecipe.CHERRY_LR_SCALE),
                        TrainableParameters.parse(QuantizationRecipe.TRAINABLE,
                                fields.text(QuantizationRecipe.TRAINABLE)),
                        TrainingMode.parse(QuantizationRecipe.TRAINING, fields.text(QuantizationRecipe.TRAINING)),
                        fields.integer(QuantizationRecipe.E2E_STEPS),
                        (float) fields.number(QuantizationRecipe.E2E_LR)),
                fields.integer(QuantizationRecipe.SEQ_LEN), fields.integer64(QuantizationRecipe.SEED),
                fields.number(QuantizationRecipe.GPTQ_DAMPENING), fields.bool(QuantizationRecipe.GPTQ_ACT_ORDER));
        EvalSpec eval = EvalSpec.newBuilder().setDataUri(fields.text("eval_data"))
                .setWindowsPerShard(fields.integer("eval_windows_per_shard"))
                .setBatchSize(fields.integer("eval_batch_size")).addAllBaselines(fields.texts("baselines")).build();
        QuantizationRequest.Builder request = QuantizationRequest.newBuilder().setJobId(jobId)
                .setIdempotencyKey(fields.text("idempotency_key"))
                .setModel(ModelRef.newBuilder().setUri(fields.text("model"))).setEval(eval)
                .setCalibrationDataUri(fields.text("calibration_data")).setTrainDataUri(fields.text("train_data"))
                .setCalibrationShards(fields.integer("calibration_shards"))
                .setQat(QatHyperparameters.newBuilder().setSegmentSteps(fields.integer("segment_steps")))
                .setExport(fields.text("export")).setSubmittedUnixMs(System.currentTimeMillis());
        return RecipeProto.apply(recipe, request).build(); // ranges are checked by the planner, on the recipe
    }

    /** Typed access with defaults and precise errors. */
    private record Fields(JsonNode root) {

        private JsonNode node(String name) {
            JsonNode node = root.get(name);
            if ((node == null || node.isNull()) && FIELDS.get(name) == null) {
                throw new InvalidInputException("field '" + name + "' is required");
            }
            return node == null || node.isNull() ? null : node;
        }

        String text(String name) {
            JsonNode node = node(name);
            if (node == null) {
                return (String) FIELDS.get(name);
            }
            if (!node.isTextual()) {
                throw new InvalidInputException("field '" + name + "' must be a string");
            }
            return node.asText();
        }

        int integer(String name) {
            long value = integer64(name);
            if (value != (int) value) {
                throw new InvalidInputException("field '" + name + "' must be an integer");
            }
            return (int) value;
        }

        boolean bool(String name) {
            JsonNode node = node(name);
            if (node == null) {
                return (Boolean) FIELDS.get(name);
            }
            if (!node.isBoolean()) {
                throw new InvalidInputException("field '" + name + "' must be true or false");
            }
            return node.asBoolean();
        }

        long integer64(String name) {
            JsonNode node = node(name);
            if (node == null) {
                return ((Number) FIELDS.get(name)).longValue();
            }
            if (!node.isIntegralNumber() || !node.canConvertToLong()) {
                throw new InvalidInputException("field '" + name + "' must be an integer");
            }
            return node.asLong();
        }

        double number(String name) {
            JsonNode node = node(name);
            if (node == null) {
                return ((Number) FIELDS.get(name)).doubleValue();
            }
            if (!node.isNumber()) {
                throw new InvalidInputException("field '" + name + "' must be a number");
            }
            return node.asDouble();
        }

        @SuppressWarnings("unchecked")
        List<String> texts(String name) {
            JsonNode node = node(name);
            if (node == null) {
                return (List<String>) FIELDS.get(name);
            }
            if (!node.isArray()) {
                throw new InvalidInputException("field '" + name + "' must be an array of strings");
            }
            List<String> values = new ArrayList<>();
            for (JsonNode element : node) {
                if (!element.isTextual()) {
                    throw new InvalidInputException("field '" + name + "' must be an array of strings");
                }
                values.add(element.asText());
            }
            return values;
        }
    }
}
