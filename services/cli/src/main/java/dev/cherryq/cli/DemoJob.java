package dev.cherryq.cli;

import dev.cherryq.core.recipe.QuantizationRecipe;

/**
 * The main job ({@code cherryq run} and {@code cherryq demo}) on the committed demo model: the recipe's defaults,
 * scaled to a ~1M-parameter model and a few minutes on two cores. Only these differ from the recipe: group size 32
 * (the model's rows are 128 wide), 32 calibration samples, 100 QAT steps and windows of 256 tokens (its context).
 */
final class DemoJob {

    static final QuantizationRecipe RECIPE = QuantizationRecipe.DEFAULTS.withGroupSize(32).withCalibrationSamples(32)
            .withTraining(QuantizationRecipe.DEFAULTS.training().withSteps(100)).withSequenceLength(256);

    /** Fleet settings of the main job: scoring tasks, QAT steps per trainer task, windows per evaluator task. */
    static final int CALIBRATION_SHARDS = 4;
    static final int SEGMENT_STEPS = 25;
    static final int EVAL_WINDOWS_PER_SHARD = 32;

    private DemoJob() {}
}
