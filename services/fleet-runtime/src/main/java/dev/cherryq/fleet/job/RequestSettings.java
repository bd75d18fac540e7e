package dev.cherryq.fleet.job;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.ExportTarget;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.recipe.RecipeProblem;
import dev.cherryq.fleet.config.JobLimits;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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

    /** The most evaluation windows per shard, and per forward pass. */
    public static final int MAX_EVAL_WINDOWS_PER_SHARD = 1_000_000;
    public static final int MAX_EVAL_BATCH = 4096;

    /**
     * Throws {@link InvalidInputException} listing every invalid field of a request, each with its range, and any
     * work beyond the fleet's {@code limits}. The gateway runs it before publishing (a 400), and the planner again
     * before planning, for requests that reach the topic another way. A {@code seq_len} of 0 (the model's default,
     * at most {@link QuantizationRecipe#DEFAULT_MAX_SEQUENCE_LENGTH}) counts as that maximum in the work estimate.
     */
    public static void validate(QuantizationRequest request, JobLimits limits) {
        List<String> problems = new ArrayList<>();
        if (request.getModel().getUri().isBlank()) {
            problems.add("model: required");
        }
        QuantizationRecipe recipe = recipe(request);
        List<RecipeProblem> recipeProblems = recipe.problems();
        recipeProblems.stream().map(RecipeProblem::describe).forEach(problems::add);
        if (request.getEval().getDataUri().isBlank()) {
            problems.add("eval_data: required (held-out text)");
        }
        int windowsPerShard = request.getEval().getWindowsPerShard();
        if (windowsPerShard < 1 || windowsPerShard > MAX_EVAL_WINDOWS_PER_SHARD) {
            problems.add("eval_windows_per_shard: " + windowsPerShard + " is out of range 1.."
                    + MAX_EVAL_WINDOWS_PER_SHARD);
        }
        if (request.getEval().getBatchSize() < 1 || request.getEval().getBatchSize() > MAX_EVAL_BATCH) {
            problems.add("eval_batch_size: " + request.getEval().getBatchSize() + " is out of range 1.."
                    + MAX_EVAL_BATCH);
        }
        for (String baseline : request.getEval().getBaselinesList()) {
            if (!BASELINES.contains(baseline)) {
                problems.add("baselines: '" + baseline + "' is not fp or rtn");
            }
        }
        if (!request.getExport().isBlank()) {
            try {
                ExportTarget.parse("export", request.getExport());
                if (recipe.method() == dev.cherryq.core.recipe.QuantMethod.RTN) {
                    problems.add("export: not for method rtn, which no trainer exports (cherryq quantize --method rtn "
                            + "--export writes it in one process)");
                }
            } catch (InvalidInputException e) {
                problems.add(e.getMessage());
            }
        }
        long tasks = 0;
        if (recipe.method() != null && recipe.needsCalibration()) {
            if (request.getCalibrationDataUri().isBlank()) {
                problems.add("calibration_data: required for " + (recipe.scores()
                        ? "the " + recipe.criterion().cliName() + " criterion" : "GPTQ"));
            }
            int shards = request.getCalibrationShards();
            int most = Math.min(request.getCalibrationSamples(), limits.maxTasks());
            if (recipe.scores() && (shards < 1 || shards > most)) {
                problems.add("calibration_shards: " + shards + " is out of range 1.." + most
                        + " (calibration_samples, and the fleet's task limit)");
            }
            tasks += recipe.scores() ? Math.max(shards, 0) : 0;
        }
        boolean trains = recipe.method() != null && recipe.method().trains();
        if (trains) {
            if (request.getTrainDataUri().isBlank()) {
                problems.add("train_data: required for " + recipe.method().wireName());
            }
            if (recipe.training() != null && recipe.training().mode() == TrainingMode.BLOCKWISE
                    && recipe.init() == dev.cherryq.core.recipe.InitMethod.GPTQ) {
                problems.add("training: blockwise starts from round to nearest in the fleet (init gptq with "
                        + "blockwise runs in one process: cherryq quantize)");
            }
            int segmentSteps = request.getQat().getSegmentSteps();
            if (segmentSteps < 1 || segmentSteps > QuantizationRecipe.Training.MAX_STEPS) {
                problems.add("segment_steps: " + segmentSteps + " is out of range 1.."
                        + QuantizationRecipe.Training.MAX_STEPS);
            } else if (recipeProblems.isEmpty()) {
                tasks += segments(request);
            }
        }
        if (trains && recipeProblems.isEmpty()) {
            QuantizationRecipe.Training training = recipe.training();
            long window = request.getSeqLen() > 0 ? request.getSeqLen() : QuantizationRecipe.DEFAULT_MAX_SEQUENCE_LENGTH;
            // block-wise training's end-to-end phase reads the windows again, e2e_steps times a step's
            long steps = (long) training.steps() + (training.endToEndPhase() ? training.endToEndSteps() : 0);
            long tokens = steps * training.batchSize() * training.gradientAccumulation() * window;
            if (tokens > limits.maxTrainingTokens()) {
                problems.add(String.format(Locale.ROOT, "(steps + e2e_steps) x batch_size x grad_accum x seq_len: %,d "
                        + "training tokens exceed the fleet's limit of %,d per job", tokens,
                        limits.maxTrainingTokens()));
            }
        }
        if (tasks > limits.maxTasks()) {
            problems.add("calibration_shards + training segments: " + tasks + " tasks exceed the fleet's limit of "
                    + limits.maxTasks() + " per job");
        }
        if (!problems.isEmpty()) {
            throw new InvalidInputException("invalid request: " + String.join("; ", problems));
        }
    }

    /** Throws when the tasks a planned job needs (scoring, training, evaluation) exceed the fleet's limit. */
    public static void checkTasks(QuantizationRequest request, int evaluationTasks, JobLimits limits) {
        QuantizationRecipe recipe = recipe(request);
        long tasks = (recipe.scores() ? request.getCalibrationShards() : 0) + (trains(request) ? segments(request) : 0)
                + (long) evaluationTasks;
        if (tasks > limits.maxTasks()) {
            throw new InvalidInputException("the job needs " + tasks + " tasks (" + evaluationTasks + " of them "
                    + "evaluation shards: raise eval_windows_per_shard), above the fleet's limit of " + limits.maxTasks()
                    + " per job");
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
        long steps = request.getQat().getSteps();
        long segment = request.getQat().getSegmentSteps();
        return (int) ((steps + segment - 1) / segment);
    }

    /** The last step of the first trainer task (0 for GPTQ alone, which trains no steps). */
    public static int firstSegmentEnd(QuantizationRequest request) {
        return recipe(request).method().trains()
                ? Math.min(request.getQat().getSegmentSteps(), request.getQat().getSteps()) : 0;
    }
}
