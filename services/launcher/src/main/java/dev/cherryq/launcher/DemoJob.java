package dev.cherryq.launcher;

import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import java.nio.file.Path;
import java.util.List;

/**
 * The main job ({@code cherryq run} and {@code cherryq demo}) on the committed demo model: the recipe's defaults,
 * scaled to a ~1M-parameter model and a few minutes on two cores. Only these differ from the recipe: group size 32
 * (the model's rows are 128 wide), 32 calibration samples, 100 QAT steps and windows of 256 tokens (its context).
 */
public final class DemoJob {

    public static final QuantizationRecipe RECIPE = QuantizationRecipe.DEFAULTS.withGroupSize(32).withCalibrationSamples(32)
            .withTraining(QuantizationRecipe.DEFAULTS.training().withSteps(100)).withSequenceLength(256);

    /** Fleet settings of the main job: scoring tasks, QAT steps per trainer task, windows per evaluator task. */
    public static final int CALIBRATION_SHARDS = 4;
    public static final int SEGMENT_STEPS = 25;
    public static final int EVAL_WINDOWS_PER_SHARD = 32;

    /** The methods {@code cherryq run} compares with the main one, each a job of its own (as its option reads it). */
    public static final String COMPARED_METHODS = "gptq,qat";
    /** The rows the main method's job adds (as {@code cherryq run}'s option reads them). */
    public static final String BASELINES = "fp,rtn";

    private DemoJob() {}

    /**
     * The jobs {@code cherryq run} submits with no options: CherryQ with the fp and rtn rows, then GPTQ and plain QAT
     * on the same recipe.
     */
    public static List<FleetJob> fleetJobs(DemoInputs inputs) {
        Path training = inputs.training().toAbsolutePath().normalize();
        FleetJob main = new FleetJob(RECIPE, inputs.model().toAbsolutePath().normalize(), training, training,
                inputs.heldOut().toAbsolutePath().normalize(), CALIBRATION_SHARDS, SEGMENT_STEPS,
                EVAL_WINDOWS_PER_SHARD, List.of(BASELINES.split(",")));
        return main.withComparisons(List.of(QuantMethod.GPTQ, QuantMethod.QAT));
    }
}
