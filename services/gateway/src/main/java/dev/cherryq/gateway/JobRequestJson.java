package dev.cherryq.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.proto.v1.Criterion;
import dev.cherryq.proto.v1.EvalSpec;
import dev.cherryq.proto.v1.Method;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.QatHyperparameters;
import dev.cherryq.proto.v1.QuantScheme;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gateway's JSON request body, mapped to a {@link QuantizationRequest} with the same defaults as
 * {@code cherryq quantize}. Only the shape is checked here (a JSON object, known fields, right types); ranges and
 * references are the planner's job, so that every semantic problem becomes a FAILED job with its reason.
 */
public final class JobRequestJson {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Field name -> default (null = required); the body may hold only these. */
    public static final Map<String, Object> FIELDS = new LinkedHashMap<>();

    static {
        FIELDS.put("model", null);
        FIELDS.put("eval_data", null);
        FIELDS.put("method", "cherryq");
        FIELDS.put("bits", 3);
        FIELDS.put("group_size", 128);
        FIELDS.put("scheme", "sym-full");
        FIELDS.put("cherry_fraction", 1.0 / 256);
        FIELDS.put("criterion", "impact");
        FIELDS.put("calibration_data", "");
        FIELDS.put("calibration_samples", 128);
        FIELDS.put("calibration_shards", 4);
        FIELDS.put("train_data", "");
        FIELDS.put("steps", 200);
        FIELDS.put("segment_steps", 50);
        FIELDS.put("batch_size", 4);
        FIELDS.put("grad_accum", 1);
        FIELDS.put("lr", 1e-4);
        FIELDS.put("warmup_fraction", 0.05);
        FIELDS.put("floor_fraction", 0.0);
        FIELDS.put("weight_decay", 0.0);
        FIELDS.put("gradient_clip", 1.0);
        FIELDS.put("seq_len", 0);
        FIELDS.put("eval_windows_per_shard", 16);
        FIELDS.put("eval_batch_size", 8);
        FIELDS.put("baselines", List.of("fp", "rtn"));
        FIELDS.put("seed", 0);
        FIELDS.put("idempotency_key", "");
    }

    private JobRequestJson() {}

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
        QatHyperparameters qat = QatHyperparameters.newBuilder().setSteps(fields.integer("steps"))
                .setSegmentSteps(fields.integer("segment_steps")).setBatchSize(fields.integer("batch_size"))
                .setGradAccum(fields.integer("grad_accum")).setLearningRate((float) fields.number("lr"))
                .setWarmupFraction(fields.number("warmup_fraction")).setFloorFraction(fields.number("floor_fraction"))
                .setWeightDecay((float) fields.number("weight_decay"))
                .setGradientClip((float) fields.number("gradient_clip")).build();
        EvalSpec eval = EvalSpec.newBuilder().setDataUri(fields.text("eval_data"))
                .setWindowsPerShard(fields.integer("eval_windows_per_shard"))
                .setBatchSize(fields.integer("eval_batch_size")).addAllBaselines(fields.texts("baselines")).build();
        return QuantizationRequest.newBuilder().setJobId(jobId).setIdempotencyKey(fields.text("idempotency_key"))
                .setModel(ModelRef.newBuilder().setUri(fields.text("model"))).setEval(eval)
                .setCalibrationDataUri(fields.text("calibration_data")).setTrainDataUri(fields.text("train_data"))
                .setMethod(method(fields.text("method"))).setBits(fields.integer("bits"))
                .setGroupSize(fields.integer("group_size")).setScheme(scheme(fields.text("scheme")))
                .setCherryFraction(fields.number("cherry_fraction")).setCriterion(criterion(fields.text("criterion")))
                .setCalibrationSamples(fields.integer("calibration_samples"))
                .setCalibrationShards(fields.integer("calibration_shards")).setQat(qat)
                .setSeqLen(fields.integer("seq_len")).setSeed(fields.integer("seed"))
                .setSubmittedUnixMs(System.currentTimeMillis()).build();
    }

    private static Method method(String name) {
        return switch (name) {
            case "rtn" -> Method.METHOD_RTN;
            case "qat" -> Method.METHOD_QAT;
            case "cherryq" -> Method.METHOD_CHERRYQ;
            default -> throw new InvalidInputException("method '" + name + "' is not rtn, qat or cherryq");
        };
    }

    private static QuantScheme scheme(String name) {
        return switch (name) {
            case "sym-full" -> QuantScheme.QUANT_SCHEME_SYM_FULL;
            case "asym" -> QuantScheme.QUANT_SCHEME_ASYM;
            default -> throw new InvalidInputException("scheme '" + name + "' is not sym-full or asym");
        };
    }

    private static Criterion criterion(String name) {
        return switch (name) {
            case "impact" -> Criterion.CRITERION_IMPACT;
            case "magnitude" -> Criterion.CRITERION_MAGNITUDE;
            case "random" -> Criterion.CRITERION_RANDOM;
            default -> throw new InvalidInputException("criterion '" + name + "' is not impact, magnitude or random");
        };
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
            JsonNode node = node(name);
            if (node == null) {
                return ((Number) FIELDS.get(name)).intValue();
            }
            if (!node.isIntegralNumber() || !node.canConvertToInt()) {
                throw new InvalidInputException("field '" + name + "' must be an integer");
            }
            return node.asInt();
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
