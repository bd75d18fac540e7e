package dev.cherryq.fleet.job;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.RecipeProblem;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * A request's settings as a core {@link QuantizationRecipe}, and the validation that runs once, in the planner,
 * before any work: the recipe's own problems (named by field, as in JSON requests) plus what only the fleet needs
 * (data references, shards, segments, evaluation).
 */
public final class RequestSettings {

    /** Rows the evaluator can add beside the method's: full precision and round to nearest. */
    public static final List<String> BASELINES = List.of("fp", "rtn");

    private RequestSettings() {}

    /** The recipe of a request (a pure translation; see {@link RecipeProto}). */
    public static QuantizationRecipe recipe(QuantizationRequest request) {
        return RecipeProto.toRecipe(request);
    }

    /** Throws {@link InvalidInputException} listing every invalid field of a request. */
    public static void validate(QuantizationRequest request) {
        List<String> problems = new ArrayList<>();
        if (request.getModel().getUri().isBlank()) {
            problems.add("model: required");
        }
        QuantizationRecipe recipe = recipe(request);
        recipe.problems().stream().map(RecipeProblem::describe).forEach(problems::add);
        if (request.getSeqLen() < 2) { // the planner has resolved 0 to the model's default by now
            problems.add("seq_len: " + request.getSeqLen() + " must be at least 2");
        }
        if (request.getEval().getDataUri().isBlank()) {
            problems.add("eval_data: required (held-out text)");
        }
        if (request.getEval().getWindowsPerShard() < 1) {
            problems.add("eval_windows_per_shard: " + request.getEval().getWindowsPerShard() + " must be at least 1");
        }
        if (request.getEval().getBatchSize() < 1) {
            problems.add("eval_batch_size: must be at least 1");
        }
        for (String baseline : request.getEval().getBaselinesList()) {
            if (!BASELINES.contains(baseline)) {
                problems.add("baselines: '" + baseline + "' is not fp or rtn");
            }
        }
        if (recipe.method() != null && recipe.needsCalibration()) {
            if (request.getCalibrationDataUri().isBlank()) {
                problems.add("calibration_data: required for " + (recipe.scores()
                        ? "the " + recipe.criterion().cliName() + " criterion" : "GPTQ"));
            }
            if (request.getCalibrationShards() < 1 || request.getCalibrationShards() > request.getCalibrationSamples()) {
                problems.add("calibration_shards: " + request.getCalibrationShards() + " must be 1..calibration_samples");
            }
        }
        if (recipe.method() != null && recipe.method().trains()) {
            if (request.getTrainDataUri().isBlank()) {
                problems.add("train_data: required for " + recipe.method().wireName());
            }
            if (request.getQat().getSegmentSteps() < 1) {
                problems.add("segment_steps: " + request.getQat().getSegmentSteps() + " must be at least 1");
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidInputException("invalid request: " + String.join("; ", problems));
        }
    }

    /**
     * The calibration text is the training text (the planner then stores one token tensor for both), so calibration
     * samples must stay out of the training text's validation windows.
     */
    public static boolean calibratesOnTrainingText(PreparedData data) {
        return data.getCalibrationTokens().equals(data.getTrainTokens());
    }

    /** The trainer stage runs for every method that needs a model in memory: GPTQ, QAT and CherryQ. */
    public static boolean trains(QuantizationRequest request) {
        QuantMethod method = recipe(request).method();
        return method != null && method != QuantMethod.RTN;
    }

    /** Number of trainer tasks of a request: QAT segments, or one for GPTQ alone. */
    public static int segments(QuantizationRequest request) {
        if (!recipe(request).method().trains()) {
            return 1;
        }
        int steps = request.getQat().getSteps();
        int segment = request.getQat().getSegmentSteps();
        return (steps + segment - 1) / segment;
    }

    /** The last step of the first trainer task (0 for GPTQ alone, which trains no steps). */
    public static int firstSegmentEnd(QuantizationRequest request) {
        return recipe(request).method().trains()
                ? Math.min(request.getQat().getSegmentSteps(), request.getQat().getSteps()) : 0;
    }
}
