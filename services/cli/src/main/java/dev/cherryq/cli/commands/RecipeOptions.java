package dev.cherryq.cli.commands;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.RecipeProblem;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.launcher.DemoJob;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * The options of a {@link QuantizationRecipe}, shared by every command that runs a job ({@code quantize},
 * {@code run}; {@code report} shares the defaults). Each option maps to one recipe field but {@code --bits}, which
 * each command declares itself; its default is the recipe's, supplied by a
 * {@link Defaults} provider on the command, so help texts show the values the code uses and nothing is written
 * twice. Problems are reported with the flag that maps to the field.
 */
final class RecipeOptions {

    /** Recipe field -> command-line flag. */
    static final Map<String, String> FLAGS = new LinkedHashMap<>();

    static {
        FLAGS.put(QuantizationRecipe.METHOD, "--method");
        FLAGS.put(QuantizationRecipe.INIT, "--init");
        FLAGS.put(QuantizationRecipe.BITS, "--bits");
        FLAGS.put(QuantizationRecipe.GROUP_SIZE, "--group-size");
        FLAGS.put(QuantizationRecipe.SCHEME, "--scheme");
        FLAGS.put(QuantizationRecipe.CRITERION, "--criterion");
        FLAGS.put(QuantizationRecipe.CHERRY_FRACTION, "--cherry-fraction");
        FLAGS.put(QuantizationRecipe.CALIBRATION_SAMPLES, "--calib-samples");
        FLAGS.put(QuantizationRecipe.STEPS, "--steps");
        FLAGS.put(QuantizationRecipe.BATCH_SIZE, "--batch-size");
        FLAGS.put(QuantizationRecipe.GRAD_ACCUM, "--grad-accum");
        FLAGS.put(QuantizationRecipe.LEARNING_RATE, "--lr");
        FLAGS.put(QuantizationRecipe.WARMUP_FRACTION, "--warmup-fraction");
        FLAGS.put(QuantizationRecipe.FLOOR_FRACTION, "--floor-fraction");
        FLAGS.put(QuantizationRecipe.WEIGHT_DECAY, "--weight-decay");
        FLAGS.put(QuantizationRecipe.GRADIENT_CLIP, "--gradient-clip");
        FLAGS.put(QuantizationRecipe.LOSS, "--loss");
        FLAGS.put(QuantizationRecipe.VALIDATION_WINDOWS, "--validation-windows");
        FLAGS.put(QuantizationRecipe.CHERRY_LR_SCALE, "--cherry-lr-scale");
        FLAGS.put(QuantizationRecipe.TRAINABLE, "--trainable");
        FLAGS.put(QuantizationRecipe.TRAINING, "--training");
        FLAGS.put(QuantizationRecipe.E2E_STEPS, "--e2e-steps");
        FLAGS.put(QuantizationRecipe.E2E_LR, "--e2e-lr");
        FLAGS.put(QuantizationRecipe.SEQ_LEN, "--seq-len");
        FLAGS.put(QuantizationRecipe.SEED, "--seed");
        FLAGS.put(QuantizationRecipe.GPTQ_DAMPENING, "--gptq-dampening");
        FLAGS.put(QuantizationRecipe.GPTQ_ACT_ORDER, "--gptq-act-order");
    }

    @Option(names = "--method", description = "rtn, gptq, qat or cherryq (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--init", description = "where qat and cherryq training starts: rtn (the model's own weights) or "
            + "gptq (GPTQ's, cherries kept out of its rounding) (default: ${DEFAULT-VALUE})")
    String init;

    @Option(names = "--group-size", description = "weights per group along a row; -1 = whole row (default: ${DEFAULT-VALUE})")
    Integer groupSize;

    @Option(names = "--scheme", description = "sym-full (the paper's), asym, or sym (GPTQ's symmetric grid) (default: ${DEFAULT-VALUE})")
    String scheme;

    @Option(names = "--criterion", description = "cherry criterion: impact, saliency (impact x squared rounding error), group-aware (the "
            + "group's saved error), magnitude or random (default: ${DEFAULT-VALUE})")
    String criterion;

    @Option(names = "--cherry-fraction", description = "share of each row kept in full precision, 0..0.5; per row "
            + "max(1, round(f x columns)) (default: ${DEFAULT-VALUE})")
    Double cherryFraction;

    @Option(names = "--calib-samples", description = "calibration samples of --seq-len tokens, for impact scoring and "
            + "GPTQ (default: ${DEFAULT-VALUE})")
    Integer calibrationSamples;

    @Option(names = "--steps", description = "QAT steps (default: ${DEFAULT-VALUE})")
    Integer steps;

    @Option(names = "--batch-size", description = "QAT windows per micro-batch (default: ${DEFAULT-VALUE})")
    Integer batchSize;

    @Option(names = "--grad-accum", description = "micro-batches per QAT step (default: ${DEFAULT-VALUE})")
    Integer gradientAccumulation;

    @Option(names = "--lr", description = "peak QAT learning rate (default: ${DEFAULT-VALUE})")
    Float learningRate;

    @Option(names = "--warmup-fraction", description = "share of steps spent warming up (default: ${DEFAULT-VALUE})")
    Double warmupFraction;

    @Option(names = "--floor-fraction", description = "final rate as a share of --lr; 0 = the paper's (0.25 at 3 "
            + "bits and below, 0.1 above) (default: ${DEFAULT-VALUE})")
    Double floorFraction;

    @Option(names = "--weight-decay", description = "AdamW weight decay (default: ${DEFAULT-VALUE})")
    Float weightDecay;

    @Option(names = "--gradient-clip", description = "gradient-norm clip (default: ${DEFAULT-VALUE})")
    Float gradientClip;

    @Option(names = "--loss", description = "what QAT minimizes: ce (cross-entropy, the paper's) or kd (KL to the "
            + "full-precision model's next-token distribution) (default: ${DEFAULT-VALUE})")
    String loss;

    @Option(names = "--validation-windows", description = "windows held out from the end of the training text and "
            + "scored at every segment's end; the job returns the best weights on them, never worse than its start; "
            + "0 = none (default: ${DEFAULT-VALUE})")
    Integer validationWindows;

    @Option(names = "--cherry-lr-scale", description = "cherries' step size as a multiple of --lr (default: "
            + "${DEFAULT-VALUE})")
    Float cherryLearningRateScale;

    @Option(names = "--trainable", description = "what QAT updates: all (every tensor, the paper's) or linear (only "
            + "the quantized linear weights; embeddings, norms and lm_head stay as they are) (default: ${DEFAULT-VALUE})")
    String trainable;

    @Option(names = "--training", description = "end-to-end (the whole model on the text's loss, the paper's) or "
            + "blockwise (each decoder block alone against the full-precision block's outputs, on the same windows) "
            + "(default: ${DEFAULT-VALUE})")
    String training;

    @Option(names = "--e2e-steps", description = "with --training blockwise: steps of an end-to-end phase after the "
            + "blocks that trains only the cherries and the norms on the whole model's loss (--loss), everything else "
            + "frozen; 0 = none (default: ${DEFAULT-VALUE})")
    Integer endToEndSteps;

    @Option(names = "--e2e-lr", description = "the end-to-end phase's peak rate (default: ${DEFAULT-VALUE})")
    Float endToEndLearningRate;

    @Option(names = "--seq-len", description = "calibration, training and evaluation window; 0 = min(512, the "
            + "model's max positions) (default: ${DEFAULT-VALUE})")
    Integer sequenceLength;

    @Option(names = "--seed", description = "seed for calibration samples, batches and random cherries (default: ${DEFAULT-VALUE})")
    Long seed;

    @Option(names = "--gptq-dampening", description = "GPTQ dampening, share of the Hessian's mean diagonal (default: ${DEFAULT-VALUE})")
    Double gptqDampening;

    @Option(names = "--gptq-act-order", arity = "0..1", description = "GPTQ in order of decreasing Hessian diagonal (default: ${DEFAULT-VALUE})")
    Boolean gptqActOrder;

    /**
     * The recipe these options describe with {@code bits} (a command's own option: {@code quantize} requires it),
     * validated; every problem is named by its flag.
     */
    QuantizationRecipe toRecipe(int bits) {
        QuantizationRecipe recipe = new QuantizationRecipe(QuantMethod.parse("--method", method),
                InitMethod.parse("--init", init), bits, groupSize, QuantScheme.parse("--scheme", scheme),
                SelectionCriterion.parse("--criterion", criterion), cherryFraction, calibrationSamples,
                new QuantizationRecipe.Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction,
                        floorFraction, weightDecay, gradientClip, TrainingLoss.parse("--loss", loss),
                        validationWindows, cherryLearningRateScale,
                        TrainableParameters.parse("--trainable", trainable),
                        TrainingMode.parse("--training", training), endToEndSteps, endToEndLearningRate),
                sequenceLength, seed,
                gptqDampening, gptqActOrder);
        List<RecipeProblem> problems = recipe.problems();
        if (!problems.isEmpty()) {
            throw new InvalidInputException(problems.stream().map(problem -> FLAGS.get(problem.field()) + " "
                    + problem.value() + " " + problem.requirement()).collect(Collectors.joining("; ")));
        }
        return recipe;
    }

    /**
     * Supplies each recipe option's default from a base recipe, so that {@code ${DEFAULT-VALUE}} and the parsed value
     * are the recipe's. Options that are not recipe fields keep their own defaults.
     */
    abstract static class Defaults implements IDefaultValueProvider {

        private final Map<String, String> values = new LinkedHashMap<>();

        Defaults(QuantizationRecipe base, boolean bitsRequired) {
            base.fields().forEach((field, value) -> values.put(FLAGS.get(field), String.valueOf(value)));
            if (bitsRequired) {
                values.remove(FLAGS.get(QuantizationRecipe.BITS));
            }
        }

        @Override
        public String defaultValue(ArgSpec argument) {
            if (argument instanceof OptionSpec option) {
                return values.get(option.longestName());
            }
            return null;
        }
    }

    /** The recipe's own defaults; --bits has none (quantize asks for it). */
    static final class StandardDefaults extends Defaults {
        StandardDefaults() {
            super(QuantizationRecipe.DEFAULTS, true);
        }
    }

    /** The main job's defaults ({@link DemoJob}). */
    static final class DemoDefaults extends Defaults {
        DemoDefaults() {
            super(DemoJob.RECIPE, false);
        }
    }
}
