package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.Scalars;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.train.AdamW;
import dev.cherryq.core.train.CosineSchedule;
import dev.cherryq.core.train.Pretrainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * CherryQ's unified mixed-precision QAT (Cui and Wang, 2024, Sec. 4). Every decoder linear weight is fake-quantized
 * on every forward with its cherries masked out ({@link FakeQuantizer}); normal weights learn through the STE,
 * cherries with exact gradients, and everything else in the model (embeddings, norms, lm_head) trains too, as in
 * the reference. With an empty cherry set this is the paper's plain QAT baseline. Two departures from the reference
 * are settings, to measure them: cherries may step at a multiple of the rate
 * ({@link QatSettings#cherryLearningRateScale}), and only the linear weights may train
 * ({@link TrainableParameters#LINEAR}).
 *
 * <p>Batches come from seeded offsets precomputed for the whole run, so a run resumed from a checkpoint
 * ({@link QatCheckpoint}) sees the same batches and ends with the same weights as an uninterrupted one.
 */
public final class QatTrainer {

    /**
     * Losses per step (including those of the run before a resume), where this run started, and the validation
     * scores so far with the step whose weights the model holds at the end of the whole run (the best score's).
     */
    public record Result(List<Float> losses, double seconds, int startedAtStep, List<ValidationPoint> validation,
            int bestStep) {

        /** Training beat its start on validation (always true without validation). */
        public boolean improvedOnStart() {
            return validation.isEmpty() || bestStep > 0;
        }
    }

    /**
     * Held-out windows scored on the quantized forward before the first step, every {@code every} steps, at the end
     * of every segment and of the run. At the end of the run the model holds the weights of the best score, which
     * is its start when no step improved on it.
     */
    public record Validation(TokenWindows windows, int every, int batchSize) {
        public Validation {
            if (every < 1 || batchSize < 1) {
                throw new InvalidInputException("validation every " + every + " steps in batches of " + batchSize
                        + ": both must be at least 1");
            }
        }
    }

    /** Mean NLL over the validation windows after {@code step} steps (0 = the start). */
    public record ValidationPoint(int step, double meanNll) {}

    private QatTrainer() {}

    public static Result train(LlamaModel model, QuantSpec spec, CherrySet cherries, int[] tokens, QatSettings settings,
            Path checkpointDir, Progress progress) {
        return train(model, spec, cherries, tokens, settings, checkpointDir, settings.steps(), progress);
    }

    /**
     * Runs steps up to {@code untilStep} (exclusive bound on the step index; at most {@code settings.steps()}) and
     * checkpoints there: one segment of a run that a fleet trainer resumes from the checkpoint, possibly on another
     * worker. Segments of one run see exactly the batches and schedule of the uninterrupted run.
     */
    public static Result train(LlamaModel model, QuantSpec spec, CherrySet cherries, int[] tokens, QatSettings settings,
            Path checkpointDir, int untilStep, Progress progress) {
        return train(model, null, null, spec, cherries, tokens, null, settings, checkpointDir, untilStep, progress);
    }

    /**
     * As above, with the identity of the weights training starts from ({@link QatCheckpoint#fingerprint}): a start
     * that was derived from the loaded model (GPTQ) is named by the caller, so that segments and resumed runs, which
     * load the model again, match their checkpoints.
     *
     * @param teacher the full-precision model to distill from ({@link Distillation}), or null to minimize the
     *     cross-entropy on the text
     * @param validation held-out windows to keep the best weights by, or null to return the last step's
     */
    public static Result train(LlamaModel model, LlamaModel teacher, String startWeights, QuantSpec spec,
            CherrySet cherries, int[] tokens, Validation validation, QatSettings settings, Path checkpointDir,
            int untilStep, Progress progress) {
        DjlRuntime.prepareComputeThread(); // any thread may train: a fleet worker's, too
        int stopStep = Math.min(untilStep, settings.steps());
        if (stopStep < 1) {
            throw new InvalidInputException("a QAT segment must end at step 1 or later, not " + untilStep);
        }
        int window = settings.sequenceLength();
        if (tokens.length < window) {
            throw new InvalidInputException("training text has " + tokens.length + " tokens, shorter than one window of "
                    + window + ": give at least " + window + " tokens of text or a smaller seq_len");
        }
        if (window > model.config().maxPositionEmbeddings()) {
            throw new InvalidInputException("seq_len " + window + " exceeds the model's max_position_embeddings "
                    + model.config().maxPositionEmbeddings());
        }
        String fingerprint = QatCheckpoint.fingerprint(model, startWeights, spec, cherries, tokens, settings,
                teacher != null);
        int[][] offsets = batchOffsets(tokens.length, settings);
        CosineSchedule schedule = new CosineSchedule(settings.learningRate(), settings.warmupFraction(),
                settings.floorFraction(), settings.steps());
        long started = System.nanoTime();
        try (NDManager runManager = DjlRuntime.newManager();
                AdamW optimizer = new AdamW(runManager, 0.9f, 0.95f, 1e-8f, settings.weightDecay())) {
            Map<String, NDArray> masks = cherryMasks(runManager, cherries);
            Map<String, NDArray> updated = trainedParameters(model, settings.trainable());
            updated.values().forEach(parameter -> parameter.setRequiresGradient(true)); // frozen ones get none
            fakeQuantize(model, spec, masks);
            Map<String, NDArray> rateScales = cherryRateScales(masks, settings.cherryLearningRateScale());
            List<Float> losses = new ArrayList<>();
            BestWeights best = new BestWeights();
            int startStep = 0;
            if (checkpointDir != null && QatCheckpoint.exists(checkpointDir)) {
                startStep = QatCheckpoint.restore(checkpointDir, fingerprint, model.parameters(), optimizer, losses,
                        best);
            }
            if (validation != null && startStep == 0) {
                best.offer(0, validate(model, validation), model.parameters()); // the start: what training has to beat
            }
            for (int step = startStep; step < stopStep; step++) {
                float loss = 0;
                try (NDManager stepScope = model.newStep()) {
                    masks.values().forEach(mask -> mask.tempAttach(stepScope));
                    for (int micro = 0; micro < settings.gradientAccumulation(); micro++) {
                        long[] batch = batch(tokens, offsets[step * settings.gradientAccumulation() + micro], window);
                        // the teacher's next-token distribution, before the student's graph: no gradient reaches it
                        NDArray target = teacher == null ? null : teacherLogProbabilities(teacher, batch,
                                settings.batchSize(), window, stepScope); // (B, L-1, V)
                        try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                            NDArray ids = model.tokenArray(stepScope, batch, settings.batchSize(), window); // (B, L)
                            NDArray objective = target == null ? model.nextTokenNll(stepScope, ids).mean()
                                    : Distillation.klDivergence(model.nextTokenLogProbabilities(stepScope, ids), target);
                            // micro-batch gradients add up in DJL; scale so the step sees their mean
                            collector.backward(objective.div(Scalars.of(stepScope, settings.gradientAccumulation())));
                            loss += objective.getFloat() / settings.gradientAccumulation();
                        }
                        if (target != null) {
                            target.close(); // (B, L-1, V) per micro-batch: free it before the next one
                        }
                    }
                    Pretrainer.clipGradients(updated.values(), settings.gradientClip(), stepScope);
                }
                optimizer.step(updated, schedule.at(step), rateScales);
                Pretrainer.zeroGradients(updated.values());
                losses.add(loss);
                progress.update(step + 1, settings.steps(), String.format("loss %.4f", loss));
                boolean last = step + 1 == stopStep;
                if (validation != null && (last || (step + 1) % validation.every() == 0)) {
                    best.offer(step + 1, validate(model, validation), model.parameters());
                }
                if (checkpointDir != null && (last || settings.checkpointEvery() > 0
                        && (step + 1) % settings.checkpointEvery() == 0)) {
                    QatCheckpoint.save(checkpointDir, fingerprint, step + 1, model.parameters(), optimizer, losses, best);
                }
            }
            int endStep = Math.max(stopStep, startStep);
            if (endStep == settings.steps() && best.holdsOtherThan(endStep)) {
                best.restoreInto(model.parameters()); // the run's result is its best weights on validation, perhaps its start
            }
            return new Result(losses, (System.nanoTime() - started) / 1e9, startStep, best.points(),
                    best.points().isEmpty() ? endStep : best.step());
        } finally {
            model.setLinearWeightTransform(null);
        }
    }

    /**
     * Mean NLL over the validation windows of the model as training scores it: its linear weights fake-quantized
     * under {@code spec} with the cherries kept in full precision.
     */
    public static double scoreQuantized(LlamaModel model, QuantSpec spec, CherrySet cherries, Validation validation) {
        try (NDManager manager = DjlRuntime.newManager()) {
            fakeQuantize(model, spec, cherryMasks(manager, cherries));
            return validate(model, validation);
        } finally {
            model.setLinearWeightTransform(null);
        }
    }

    /** Every forward from now on sees the linear weights fake-quantized under {@code spec}, cherries (masks) exact. */
    private static void fakeQuantize(LlamaModel model, QuantSpec spec, Map<String, NDArray> masks) {
        FakeQuantizer quantizer = new FakeQuantizer(spec);
        Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(model.config()));
        model.setLinearWeightTransform((name, weight) -> linear.contains(name)
                ? quantizer.apply(weight, inStepOf(masks.get(name), weight)) : weight);
    }

    /**
     * The mask, attached for the current step to the weight's (step) manager when it lives elsewhere: what the fake
     * quantizer computes from it lands in its manager, so a mask left in the run's manager (validation, whose
     * evaluator makes its own steps) would keep those arrays until the run ends.
     */
    static NDArray inStepOf(NDArray mask, NDArray weight) {
        if (mask != null && mask.getManager() != weight.getManager()) {
            mask.tempAttach(weight.getManager());
        }
        return mask;
    }

    /** Mean NLL of the model as it is now (quantized forward) over the validation windows. */
    private static double validate(LlamaModel model, Validation validation) {
        return new PerplexityEvaluator(model, validation.batchSize()).evaluate(validation.windows(), Progress.NONE)
                .meanNll();
    }

    /** The teacher's log-probabilities for a batch, (B, L-1, V), moved into the student's step scope. */
    private static NDArray teacherLogProbabilities(LlamaModel teacher, long[] batch, int batchSize, int window,
            NDManager stepScope) {
        try (NDManager teacherStep = teacher.newStep()) {
            NDArray ids = teacher.tokenArray(teacherStep, batch, batchSize, window); // (B, L)
            NDArray logProbabilities = teacher.nextTokenLogProbabilities(teacherStep, ids); // (B, L-1, V)
            logProbabilities.attach(stepScope); // outlives the teacher's step, freed with the student's
            return logProbabilities;
        }
    }

    /** Row starts for every micro-batch of the run, from the seed alone: (steps x accumulation) x batchSize. */
    static int[][] batchOffsets(int tokenCount, QatSettings settings) {
        SplittableRandom random = new SplittableRandom(settings.seed());
        int[][] offsets = new int[settings.steps() * settings.gradientAccumulation()][settings.batchSize()];
        for (int[] micro : offsets) {
            for (int row = 0; row < micro.length; row++) {
                micro[row] = random.nextInt(tokenCount - settings.sequenceLength() + 1);
            }
        }
        return offsets;
    }

    private static long[] batch(int[] tokens, int[] starts, int window) {
        long[] ids = new long[starts.length * window];
        for (int row = 0; row < starts.length; row++) {
            for (int i = 0; i < window; i++) {
                ids[row * window + i] = tokens[starts[row] + i];
            }
        }
        return ids;
    }

    /** The parameters the optimizer updates; the others keep their values and get no gradient. */
    private static Map<String, NDArray> trainedParameters(LlamaModel model, TrainableParameters trainable) {
        if (trainable == TrainableParameters.ALL) {
            return model.parameters();
        }
        Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(model.config()));
        Map<String, NDArray> updated = new LinkedHashMap<>();
        model.parameters().forEach((name, parameter) -> {
            if (linear.contains(name)) {
                updated.put(name, parameter);
            }
        });
        return updated;
    }

    /** (rows, columns) per layer with cherries: the scale at cherries, 1 elsewhere; none when the scale is 1. */
    static Map<String, NDArray> cherryRateScales(Map<String, NDArray> masks, float scale) {
        Map<String, NDArray> scales = new LinkedHashMap<>();
        if (scale != 1f) {
            masks.forEach((name, mask) -> scales.put(name, mask.mul(scale - 1).addi(1))); // 1 + (s - 1) mask
        }
        return scales;
    }

    /** (rows, columns) f32 masks, 1 at cherries, for the layers that have any. */
    private static Map<String, NDArray> cherryMasks(NDManager manager, CherrySet cherries) {
        return cherryMasks(manager, cherries, name -> true);
    }

    /** The same for the layers {@code include} accepts. */
    static Map<String, NDArray> cherryMasks(NDManager manager, CherrySet cherries,
            java.util.function.Predicate<String> include) {
        Map<String, NDArray> masks = new LinkedHashMap<>();
        cherries.layers().forEach((name, layer) -> {
            if (!include.test(name) || layer.perRow() == 0) {
                return;
            }
            boolean[] mask = layer.mask();
            float[] values = new float[mask.length];
            for (int i = 0; i < mask.length; i++) {
                values[i] = mask[i] ? 1 : 0;
            }
            masks.put(name, NativeArrays.of(manager, values, new Shape(layer.rows(), layer.columnsInMatrix())));
        });
        return masks;
    }
}
