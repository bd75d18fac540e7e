package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Fingerprints;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.Progress;
import dev.cherryq.core.Scalars;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.train.AdamW;
import dev.cherryq.core.train.CosineSchedule;
import dev.cherryq.core.train.Pretrainer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Block-wise CherryQ: one decoder block's quantized weights and cherries trained alone to reproduce the
 * full-precision block's outputs, after EfficientQAT's Block-AP (Chen et al., 2024, Sec. 3.2) with CherryQ's
 * unified mixed-precision update (Cui and Wang, 2024, Sec. 4): the block's linear weights are fake-quantized with
 * their cherries masked out ({@link FakeQuantizer}), normal weights learn through the straight-through estimator and
 * cherries with exact gradients; norms and biases train in full precision (with {@link TrainableParameters#ALL}).
 * The loss is the mean squared error between the quantized block's output and the full-precision block's, both
 * on the full-precision model's block inputs ({@link BlockActivations}), so every block is an independent task.
 *
 * <p>Step {@code k}, micro-batch {@code m} trains on captured windows {@code [(k * accum + m) * batch, ... + batch)}:
 * capture the windows of {@link QatTrainer#batchOffsets} in order, and a block sees exactly the tokens end-to-end
 * training would, with the same AdamW, schedule and clipping. Held-out windows (the training text's validation
 * windows, captured the same way) are scored by the block's output error at the start (round to nearest), every
 * {@code validationEvery} steps and at the end; the block returns its best weights, never worse than its start.
 */
public final class BlockwiseTrainer {

    /**
     * A block's trained tensors (HF names, row-major), its losses and its validation errors (from step 0, a resumed
     * run's included), and the step it resumed from (0: it started at the start).
     */
    public record Result(int layer, Map<String, float[]> weights, List<Float> losses,
            List<QatTrainer.ValidationPoint> validation, int bestStep, double seconds, int resumedFrom) {

        /** Training lowered the block's held-out error below its start's (always true without validation). */
        public boolean improvedOnStart() {
            return validation.isEmpty() || bestStep > 0;
        }
    }

    /** A block's captured inputs and the full-precision block's outputs on them. */
    public record Pairs(BlockActivations.Depth inputs, BlockActivations.Depth targets) {
        public Pairs {
            if (inputs.windows() != targets.windows() || inputs.length() != targets.length()
                    || inputs.hidden() != targets.hidden()) {
                throw new InvalidInputException("block inputs (" + inputs.windows() + " windows) and targets ("
                        + targets.windows() + ") do not match");
            }
        }

        /** The inputs from one depth's files and the targets from the next depth's, shard by shard, held. */
        public static Pairs read(List<java.nio.file.Path> inputFiles, List<java.nio.file.Path> targetFiles) {
            return new Pairs(BlockActivations.read(inputFiles), BlockActivations.read(targetFiles));
        }

        /** The same streamed: each micro-batch's windows read from the files when it trains. */
        public static Pairs open(List<java.nio.file.Path> inputFiles, List<java.nio.file.Path> targetFiles) {
            return new Pairs(BlockActivations.open(inputFiles), BlockActivations.open(targetFiles));
        }

        /** Pairs held, or streamed. */
        public static Pairs of(List<java.nio.file.Path> inputFiles, List<java.nio.file.Path> targetFiles,
                boolean streamed) {
            return streamed ? open(inputFiles, targetFiles) : read(inputFiles, targetFiles);
        }
    }

    /** Windows per forward pass when scoring validation windows. */
    private static final int VALIDATION_BATCH = 8;

    private BlockwiseTrainer() {}

    /**
     * The windows block-wise training sees, in the order it trains on them: the starts of every micro-batch of an
     * end-to-end run with these settings over {@code tokenCount} tokens, flattened.
     */
    public static int[] trainingWindowStarts(int tokenCount, QatSettings settings) {
        int[][] offsets = QatTrainer.batchOffsets(tokenCount, settings);
        int[] starts = new int[offsets.length * settings.batchSize()];
        for (int micro = 0; micro < offsets.length; micro++) {
            System.arraycopy(offsets[micro], 0, starts, micro * settings.batchSize(), settings.batchSize());
        }
        return starts;
    }

    /**
     * Trains block {@code layer} of {@code checkpoint} (its weights are the start: round to nearest of them is the
     * quantized start) on {@code train}, keeping the best weights on {@code validation} (null: the last step's).
     */
    public static Result train(LlamaCheckpoint checkpoint, int layer, Pairs train, Pairs validation, QuantSpec spec,
            CherrySet cherries, QatSettings settings, int validationEvery, Progress progress) {
        return train(checkpoint, layer, train, validation, spec, cherries, settings, validationEvery, null,
                folder -> { }, progress);
    }

    /**
     * The same, resuming from {@code checkpointDir} when it holds a checkpoint of this block's run (the same start,
     * format, cherries, activations and trajectory settings; another run's is refused, naming what differs) and
     * saving one there every {@code settings.checkpointEvery()} steps (0: none) before the last, each handed to
     * {@code saved} (the fleet stores it, so a block lost with its worker resumes elsewhere). A resumed block ends
     * with the same weights, bit for bit, as one trained without a break.
     *
     * @param checkpointDir null for none
     */
    public static Result train(LlamaCheckpoint checkpoint, int layer, Pairs train, Pairs validation, QuantSpec spec,
            CherrySet cherries, QatSettings settings, int validationEvery, java.nio.file.Path checkpointDir,
            java.util.function.Consumer<java.nio.file.Path> saved, Progress progress) {
        DjlRuntime.prepareComputeThread();
        int windowsNeeded = settings.steps() * settings.gradientAccumulation() * settings.batchSize();
        if (train.inputs().windows() < windowsNeeded) {
            throw new InvalidInputException("block " + layer + ": " + train.inputs().windows() + " captured windows, "
                    + "fewer than the " + windowsNeeded + " that " + settings.steps() + " steps of "
                    + settings.gradientAccumulation() + " x " + settings.batchSize() + " windows train on");
        }
        if (validationEvery < 1) {
            throw new InvalidInputException("validation every " + validationEvery + " steps: must be at least 1");
        }
        long started = System.nanoTime();
        CosineSchedule schedule = new CosineSchedule(settings.learningRate(), settings.warmupFraction(),
                settings.floorFraction(), settings.steps());
        try (LlamaModel shell = LlamaModel.forBlocks(checkpoint.config());
                NDManager runManager = DjlRuntime.newManager();
                AdamW optimizer = new AdamW(runManager, 0.9f, 0.95f, 1e-8f, settings.weightDecay())) {
            Map<String, NDArray> block = LlamaModel.loadBlock(checkpoint, layer, runManager);
            String fingerprint = checkpointDir == null ? null
                    : fingerprint(checkpoint, layer, block, train, validation, spec, cherries, settings);
            Map<String, NDArray> updated = trainedTensors(checkpoint, block, settings.trainable());
            updated.values().forEach(tensor -> tensor.setRequiresGradient(true)); // frozen ones get none
            Map<String, NDArray> masks = QatTrainer.cherryMasks(runManager, cherries, block::containsKey);
            Map<String, NDArray> rateScales = QatTrainer.cherryRateScales(masks, settings.cherryLearningRateScale());
            FakeQuantizer quantizer = new FakeQuantizer(spec);
            Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(checkpoint.config()));
            shell.setLinearWeightTransform((name, weight) -> linear.contains(name)
                    ? quantizer.apply(weight, QatTrainer.inStepOf(masks.get(name), weight)) : weight);
            BestWeights best = new BestWeights();
            List<Float> losses = new ArrayList<>();
            int startStep = 0;
            if (checkpointDir != null && QatCheckpoint.exists(checkpointDir)) {
                startStep = QatCheckpoint.restore(checkpointDir, fingerprint, block, optimizer, losses, best);
            }
            if (validation != null && startStep == 0) {
                best.offer(0, error(shell, block, masks, layer, validation), block); // the start: what training has to beat
            }
            int batch = settings.batchSize();
            for (int step = startStep; step < settings.steps(); step++) {
                float loss = 0;
                try (NDManager stepScope = shell.newStep()) {
                    block.values().forEach(tensor -> tensor.tempAttach(stepScope));
                    masks.values().forEach(mask -> mask.tempAttach(stepScope));
                    for (int micro = 0; micro < settings.gradientAccumulation(); micro++) {
                        int from = (step * settings.gradientAccumulation() + micro) * batch;
                        NDArray x = rows(stepScope, train.inputs(), from, from + batch); // (B, L, hidden)
                        NDArray y = rows(stepScope, train.targets(), from, from + batch); // (B, L, hidden)
                        try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                            NDArray mse = shell.block(stepScope, x, layer, block).sub(y).square().mean();
                            // micro-batch gradients add up in DJL; scale so the step sees their mean
                            collector.backward(mse.div(Scalars.of(stepScope, settings.gradientAccumulation())));
                            loss += mse.getFloat() / settings.gradientAccumulation();
                        }
                    }
                    Pretrainer.clipGradients(updated.values(), settings.gradientClip(), stepScope);
                }
                optimizer.step(updated, schedule.at(step), rateScales);
                Pretrainer.zeroGradients(updated.values());
                losses.add(loss);
                progress.update(step + 1, settings.steps(), String.format("block %d mse %.3g", layer, loss));
                boolean last = step + 1 == settings.steps();
                if (validation != null && (last || (step + 1) % validationEvery == 0)) {
                    best.offer(step + 1, error(shell, block, masks, layer, validation), block);
                }
                if (checkpointDir != null && !last && settings.checkpointEvery() > 0
                        && (step + 1) % settings.checkpointEvery() == 0) {
                    QatCheckpoint.save(checkpointDir, fingerprint, step + 1, block, optimizer, losses, best);
                    saved.accept(checkpointDir);
                }
            }
            // the best weights on validation, perhaps the start; without validation, the last step's
            Map<String, float[]> weights = best.holdsOtherThan(settings.steps()) ? best.weights() : copy(block);
            return new Result(layer, weights, losses, best.points(), validation == null ? settings.steps()
                    : best.step(), (System.nanoTime() - started) / 1e9, startStep);
        }
    }

    /**
     * What a block checkpoint must match to resume: the block's start weights, the format, the cherries, the
     * captured activations it trains and validates on, and the trajectory settings.
     */
    private static String fingerprint(LlamaCheckpoint checkpoint, int layer, Map<String, NDArray> block, Pairs train,
            Pairs validation, QuantSpec spec, CherrySet cherries, QatSettings settings) {
        Fingerprints data = Fingerprints.start();
        for (Pairs pairs : validation == null ? List.of(train) : List.of(train, validation)) {
            for (BlockActivations.Depth depth : List.of(pairs.inputs(), pairs.targets())) {
                for (int from = 0; from < depth.windows(); from += VALIDATION_BATCH) { // a few windows at a time
                    data.add(depth.windows(from, Math.min(depth.windows(), from + VALIDATION_BATCH)));
                }
            }
        }
        return QatCheckpoint.fingerprint(checkpoint.config() + " block " + layer + " weights "
                + QatCheckpoint.weightsFingerprint(block), spec, cherries, data.finish(), settings, false);
    }

    /** Mean squared error of the quantized block's output against the full-precision block's over the pairs. */
    static double error(LlamaModel shell, Map<String, NDArray> block, Map<String, NDArray> masks, int layer,
            Pairs pairs) {
        double sum = 0;
        long count = 0;
        for (int from = 0; from < pairs.inputs().windows(); from += VALIDATION_BATCH) {
            int to = Math.min(pairs.inputs().windows(), from + VALIDATION_BATCH);
            try (NDManager step = shell.newStep()) {
                block.values().forEach(tensor -> tensor.tempAttach(step));
                masks.values().forEach(mask -> mask.tempAttach(step)); // what the fake quantizer makes from them, too
                NDArray x = rows(step, pairs.inputs(), from, to);
                NDArray y = rows(step, pairs.targets(), from, to);
                NDArray squared = shell.block(step, x, layer, block).stopGradient().sub(y).square();
                sum += squared.sum().getFloat();
                count += squared.size();
            }
        }
        return sum / count;
    }

    /** Windows {@code [from, to)} of a depth as (to - from, length, hidden) in {@code manager}. */
    private static NDArray rows(NDManager manager, BlockActivations.Depth depth, int from, int to) {
        return NativeArrays.of(manager, depth.windows(from, to), new Shape(to - from, depth.length(), depth.hidden()));
    }

    /** The block's tensors the optimizer updates: all, or only its linear weights. */
    private static Map<String, NDArray> trainedTensors(LlamaCheckpoint checkpoint, Map<String, NDArray> block,
            TrainableParameters trainable) {
        Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(checkpoint.config()));
        Map<String, NDArray> updated = new LinkedHashMap<>();
        block.forEach((name, tensor) -> {
            if (trainable == TrainableParameters.ALL || linear.contains(name)) {
                updated.put(name, tensor);
            }
        });
        return updated;
    }

    private static Map<String, float[]> copy(Map<String, NDArray> block) {
        Map<String, float[]> copy = new LinkedHashMap<>();
        block.forEach((name, tensor) -> copy.put(name, tensor.toFloatArray()));
        return copy;
    }
}
