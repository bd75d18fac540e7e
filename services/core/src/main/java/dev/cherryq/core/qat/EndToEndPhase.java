package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.Progress;
import dev.cherryq.core.Scalars;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.model.DepthStream;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.train.AdamW;
import dev.cherryq.core.train.CosineSchedule;
import dev.cherryq.core.train.Pretrainer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The end-to-end phase after block-wise training (after EfficientQAT's E2E-QP, Chen et al., 2024, Sec. 3.3, with
 * CherryQ's cherries in place of its step sizes): the whole model's next-token loss, cross-entropy on the text or
 * distillation from the full-precision model, trains only what is small, the cherries (at their mask positions)
 * and the RMSNorm weights. Everything else is frozen: normal weights stay at their quantized values (the group
 * statistics exclude cherries, so their codes cannot move), embeddings, head and biases as they are.
 *
 * <p>Each micro-batch runs depth-streamed ({@link DepthStream}): a forward that keeps only the block inputs, the
 * loss's gradient at the last block's output, then a backward block by block that recomputes one block at a time.
 * A linear weight with cherries enters the forward as {@code q(w) (1 - M) + c[M]}: its quantized normal weights,
 * constant, and its cherries gathered from a compact vector of their values, a leaf of its own, so that gradients
 * and AdamW moments exist only for the cherries (and the norms), never for a whole matrix. At the end the cherries'
 * values are written into the model's linear weights at their positions; nothing else there changes, bit for bit.
 *
 * <p>The windows are block-wise training's, in the same order ({@link BlockwiseTrainer#trainingWindowStarts}),
 * cycled when the phase runs longer: step {@code k}, micro-batch {@code m} trains on windows
 * {@code [(k * accum + m) * batch, ... + batch)} modulo their count. With validation, the held-out windows are scored
 * on the quantized forward at the start (the block-wise result), every {@code every} steps and at the end, and the
 * phase returns the best weights, its start when no step beat it, as {@link QatTrainer} does.
 */
public final class EndToEndPhase {

    /** Losses per step, validation scores (step 0 = the block-wise result) and the step whose weights were kept. */
    public record Result(List<Float> losses, List<QatTrainer.ValidationPoint> validation, int bestStep,
            long trainedTokens, double seconds) {

        /** The phase beat its start on validation (always true without validation). */
        public boolean improvedOnStart() {
            return validation.isEmpty() || bestStep > 0;
        }
    }

    /**
     * The full-precision model's last hidden states on the training windows (the capture's last depth), and a
     * model holding its final norm and head: the teacher of the distillation loss, read rather than recomputed.
     */
    public record Teacher(LlamaModel head, BlockActivations.Depth lastHidden) {}

    private EndToEndPhase() {}

    /**
     * Trains the cherries and norms of {@code model} (its linear weights are the block-wise result; round to nearest
     * of their normal positions is what the phase keeps) for {@code settings.steps()} steps.
     *
     * @param tokens the text the windows are cut from
     * @param starts the windows' starts in {@code tokens}, in training order
     * @param teacher the distillation target, or null to minimize the cross-entropy on the text
     * @param validation held-out windows to keep the best weights by, or null to keep the last step's
     */
    public static Result train(LlamaModel model, QuantSpec spec, CherrySet cherries, int[] tokens, int[] starts,
            Teacher teacher, QatTrainer.Validation validation, QatSettings settings, Progress progress) {
        DjlRuntime.prepareComputeThread();
        if (starts.length == 0) {
            throw new InvalidInputException("the end-to-end phase has no training windows");
        }
        if (teacher != null && teacher.lastHidden().windows() != starts.length) {
            throw new InvalidInputException("the end-to-end phase has " + starts.length + " windows but "
                    + teacher.lastHidden().windows() + " captured last hidden states");
        }
        long started = System.nanoTime();
        CosineSchedule schedule = new CosineSchedule(settings.learningRate(), settings.warmupFraction(),
                settings.floorFraction(), settings.steps());
        try (NDManager runManager = DjlRuntime.newManager();
                AdamW optimizer = new AdamW(runManager, 0.9f, 0.95f, 1e-8f, settings.weightDecay())) {
            Trainables trainables = Trainables.of(model, spec, cherries, settings.trainable(), runManager);
            Map<String, NDArray> rateScales = trainables.cherryRateScales(settings.cherryLearningRateScale());
            List<Float> losses = new ArrayList<>();
            List<QatTrainer.ValidationPoint> points = new ArrayList<>();
            int bestStep = -1;
            double bestScore = Double.POSITIVE_INFINITY;
            Map<String, float[]> best = null;
            if (validation != null) {
                bestScore = validate(model, validation);
                bestStep = 0;
                best = trainables.copy();
                points.add(new QatTrainer.ValidationPoint(0, bestScore)); // the start: what the phase has to beat
            }
            int batch = settings.batchSize();
            int length = settings.sequenceLength();
            for (int step = 0; step < settings.steps(); step++) {
                float loss = 0;
                for (int micro = 0; micro < settings.gradientAccumulation(); micro++) {
                    int[] windows = new int[batch];
                    for (int row = 0; row < batch; row++) {
                        windows[row] = (int) (((long) (step * settings.gradientAccumulation() + micro) * batch + row)
                                % starts.length);
                    }
                    loss += accumulateGradients(model, trainables, tokens, starts, windows, length, teacher,
                            settings.gradientAccumulation());
                }
                try (NDManager clipScope = runManager.newSubManager()) {
                    Pretrainer.clipGradients(trainables.leaves().values(), settings.gradientClip(), clipScope);
                }
                optimizer.step(trainables.leaves(), schedule.at(step), rateScales);
                Pretrainer.zeroGradients(trainables.leaves().values());
                losses.add(loss);
                progress.update(step + 1, settings.steps(), String.format("end-to-end loss %.4f", loss));
                boolean last = step + 1 == settings.steps();
                if (validation != null && (last || (step + 1) % validation.every() == 0)) {
                    double score = validate(model, validation);
                    points.add(new QatTrainer.ValidationPoint(step + 1, score));
                    if (score < bestScore) { // ties keep the earlier step: no gain, no change
                        bestScore = score;
                        bestStep = step + 1;
                        best = trainables.copy();
                    }
                }
            }
            if (best != null) {
                trainables.restore(best);
            }
            trainables.writeCherriesInto(model);
            long trainedTokens = (long) settings.steps() * settings.gradientAccumulation() * batch * length;
            return new Result(losses, points, best != null ? bestStep : settings.steps(), trainedTokens,
                    (System.nanoTime() - started) / 1e9);
        } finally {
            model.setLinearWeightTransform(null);
        }
    }

    /**
     * The gradients the phase computes, depth-streamed, for one batch of windows: per trainable tensor (norms by
     * name, a weight's cherries by {@link #cherriesOf} its name, in the order of {@link CherrySet.Layer#mask}), the
     * gradient of the batch's mean loss. The model is left as it was. For tests against whole-model autograd.
     */
    public static Map<String, float[]> gradients(LlamaModel model, QuantSpec spec, CherrySet cherries, int[] tokens,
            int[] starts, int length, Teacher teacher) {
        DjlRuntime.prepareComputeThread();
        int[] windows = new int[starts.length];
        for (int i = 0; i < windows.length; i++) {
            windows[i] = i;
        }
        try (NDManager runManager = DjlRuntime.newManager()) {
            Trainables trainables = Trainables.of(model, spec, cherries, TrainableParameters.ALL, runManager);
            accumulateGradients(model, trainables, tokens, starts, windows, length, teacher, 1);
            Map<String, float[]> gradients = new LinkedHashMap<>();
            trainables.leaves().forEach((name, leaf) -> gradients.put(name, leaf.getGradient().toFloatArray()));
            Pretrainer.zeroGradients(trainables.leaves().values());
            return gradients;
        } finally {
            model.setLinearWeightTransform(null);
        }
    }

    /** The name under which a linear weight's cherries train: its own name with {@code #cherries}. */
    public static String cherriesOf(String weightName) {
        return weightName + "#cherries";
    }

    /**
     * One micro-batch, depth-streamed: forward keeping block inputs, the loss's gradient at the last block's output
     * (divided by {@code accumulation}), then the backward block by block; the trainables' gradients accumulate.
     *
     * @return the micro-batch's loss divided by {@code accumulation}
     */
    private static float accumulateGradients(LlamaModel model, Trainables trainables, int[] tokens, int[] starts,
            int[] windows, int length, Teacher teacher, int accumulation) {
        float[] loss = {0};
        try (NDManager micro = DjlRuntime.newManager()) {
            long[] ids = new long[windows.length * length];
            for (int row = 0; row < windows.length; row++) {
                for (int i = 0; i < length; i++) {
                    ids[row * length + i] = tokens[starts[windows[row]] + i];
                }
            }
            NDArray tokenIds = model.tokenArray(micro, ids, windows.length, length); // (B, L)
            // the teacher's next-token log-probabilities, before the student's graph: no gradient reaches it
            NDArray target = teacher == null ? null : teacherLogProbabilities(teacher, windows, micro); // (B, L-1, V)
            DepthStream stream = new DepthStream(model, micro, trainables::block, () -> { });
            NDArray embedded;
            try (NDManager step = model.newStep()) {
                embedded = DepthStream.keep(model.embed(step, tokenIds), micro); // (B, L, hidden)
            }
            NDArray last = stream.forward(List.of(embedded)).get(0); // (B, L, hidden)
            NDArray incoming = stream.inputGradient(last, (step, x) -> {
                NDArray logits = model.logits(step, x); // (B, L, V)
                NDArray objective = target == null ? LlamaModel.nextTokenNll(logits, tokenIds).mean()
                        : Distillation.klDivergence(LlamaModel.nextTokenLogProbabilities(logits), target);
                loss[0] = objective.getFloat() / accumulation;
                // micro-batch gradients add up in DJL; scale so the step sees their mean
                return objective.div(Scalars.of(step, accumulation));
            });
            stream.backward(List.of(incoming), new DepthStream.BlockVisitor() { });
        }
        return loss[0];
    }

    /** The teacher's log-probabilities on the windows, (B, L-1, V), in {@code manager}. */
    private static NDArray teacherLogProbabilities(Teacher teacher, int[] windows, NDManager manager) {
        BlockActivations.Depth depth = teacher.lastHidden();
        float[] values = new float[windows.length * depth.length() * depth.hidden()];
        for (int row = 0; row < windows.length; row++) {
            float[] window = depth.windows(windows[row], windows[row] + 1);
            System.arraycopy(window, 0, values, row * window.length, window.length);
        }
        try (NDManager step = teacher.head().newStep()) {
            NDArray hidden = NativeArrays.of(step, values, new Shape(windows.length, depth.length(), depth.hidden()));
            NDArray logProbabilities = LlamaModel.nextTokenLogProbabilities(teacher.head().logits(step, hidden));
            logProbabilities.attach(manager);
            return logProbabilities;
        }
    }

    /** Mean NLL over the validation windows of the model as the phase computes it (quantized, its cherries). */
    private static double validate(LlamaModel model, QatTrainer.Validation validation) {
        return new PerplexityEvaluator(model, validation.batchSize()).evaluate(validation.windows(), Progress.NONE)
                .meanNll();
    }

    /**
     * What the phase trains, and the forward it installs on the model: per linear weight with cherries, the
     * cherries' values as a compact leaf and the mask; the norms are the model's own tensors.
     */
    private static final class Trainables {

        /** Leaves by name: norms by their HF name, cherries by {@link #cherriesOf}. */
        private final Map<String, NDArray> leaves = new LinkedHashMap<>();
        /** Per linear weight with cherries: (rows, columns) f32, 1 at cherries. */
        private final Map<String, NDArray> masks = new HashMap<>();
        /** Per layer: the model's tensors of that block. */
        private final List<Map<String, NDArray>> blocks = new ArrayList<>();
        private final Map<String, boolean[]> boolMasks = new HashMap<>();

        static Trainables of(LlamaModel model, QuantSpec spec, CherrySet cherries, TrainableParameters trainable,
                NDManager manager) {
            Trainables trainables = new Trainables();
            for (int layer = 0; layer < model.config().numberOfLayers(); layer++) {
                trainables.blocks.add(new LinkedHashMap<>());
            }
            model.parameters().forEach((name, tensor) -> {
                int layer = LlamaTensorNames.layerOf(name);
                if (layer >= 0) {
                    trainables.blocks.get(layer).put(name, tensor);
                }
                if (trainable == TrainableParameters.ALL && isNorm(name)) {
                    tensor.setRequiresGradient(true);
                    trainables.leaves.put(name, tensor);
                }
            });
            cherries.layers().forEach((name, layer) -> {
                if (layer.perRow() == 0 || !model.parameters().containsKey(name)) {
                    return;
                }
                boolean[] mask = layer.mask();
                float[] weight = model.parameters().get(name).toFloatArray();
                float[] maskValues = new float[mask.length];
                float[] values = new float[layer.rows() * layer.perRow()];
                int next = 0;
                for (int i = 0; i < mask.length; i++) {
                    if (mask[i]) {
                        maskValues[i] = 1;
                        values[next++] = weight[i];
                    }
                }
                NDArray leaf = NativeArrays.of(manager, values, new Shape(values.length)); // (cherries,)
                leaf.setRequiresGradient(true);
                trainables.leaves.put(cherriesOf(name), leaf);
                trainables.masks.put(name, NativeArrays.of(manager, maskValues,
                        new Shape(layer.rows(), layer.columnsInMatrix())));
                trainables.boolMasks.put(name, mask);
            });
            FakeQuantizer quantizer = new FakeQuantizer(spec);
            java.util.Set<String> linear = new java.util.HashSet<>(LlamaTensorNames.linearWeights(model.config()));
            model.setLinearWeightTransform((name, weight) -> {
                if (!linear.contains(name)) {
                    return weight;
                }
                NDArray mask = QatTrainer.inStepOf(trainables.masks.get(name), weight);
                // q(w): the normal weights' quantized values, statistics without cherries; constant here
                NDArray quantized = quantizer.dequantizedNormal(weight.stopGradient(), mask); // (rows, columns)
                if (mask == null) {
                    return quantized;
                }
                NDArray values = QatTrainer.inStepOf(trainables.leaves.get(cherriesOf(name)), weight); // (cherries,)
                // position of each element's cherry in the row-major order of the mask (clamped for non-cherries)
                NDArray flatMask = mask.reshape(-1);
                NDArray position = flatMask.cumSum(0).sub(1).maximum(0).toType(DataType.INT64, false);
                NDArray gathered = values.get(new NDIndex("{}", position)).reshape(mask.getShape());
                // q(w) (1 - M) + c[M]: exact at both (x * 1 = x, x * 0 = 0, x + 0 = x)
                return quantized.mul(mask.neg().add(1)).add(gathered.mul(mask));
            });
            return trainables;
        }

        /** The RMSNorm weights: each block's two (and Qwen3's q/k norms), and the final norm. */
        static boolean isNorm(String name) {
            return name.endsWith("norm.weight");
        }

        Map<String, NDArray> leaves() {
            return leaves;
        }

        /** The model's tensors of a block, as they are (the step attaches them). */
        Map<String, NDArray> block(int layer, NDManager scope) {
            return blocks.get(layer);
        }

        /** Per cherry leaf, the scale everywhere; none when the scale is 1. */
        Map<String, NDArray> cherryRateScales(float scale) {
            Map<String, NDArray> scales = new LinkedHashMap<>();
            if (scale != 1f) {
                masks.keySet().forEach(name -> {
                    NDArray leaf = leaves.get(cherriesOf(name));
                    scales.put(cherriesOf(name), leaf.onesLike().mul(scale));
                });
            }
            return scales;
        }

        Map<String, float[]> copy() {
            Map<String, float[]> copy = new LinkedHashMap<>();
            leaves.forEach((name, leaf) -> copy.put(name, leaf.toFloatArray()));
            return copy;
        }

        /** Sets every leaf back to saved values, in place. */
        void restore(Map<String, float[]> saved) {
            try (NDManager scope = DjlRuntime.newManager()) {
                leaves.forEach((name, leaf) -> leaf.muli(0).addi(NativeArrays.of(scope, saved.get(name),
                        leaf.getShape())));
            }
        }

        /** Writes the cherries' values into the model's linear weights at their positions; nothing else changes. */
        void writeCherriesInto(LlamaModel model) {
            try (NDManager scope = DjlRuntime.newManager()) {
                boolMasks.forEach((name, mask) -> {
                    NDArray weight = model.parameters().get(name);
                    float[] values = weight.toFloatArray();
                    float[] cherries = leaves.get(cherriesOf(name)).toFloatArray();
                    int next = 0;
                    for (int i = 0; i < mask.length; i++) {
                        if (mask[i]) {
                            values[i] = cherries[next++];
                        }
                    }
                    // w * 0 + v = v exactly for finite weights: the normal positions keep their bits
                    weight.muli(0).addi(NativeArrays.of(scope, values, weight.getShape()));
                });
            }
        }
    }
}
