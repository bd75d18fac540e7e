package dev.cherryq.core.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.DepthStreamedEvaluator;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.gptq.GptqQuantizer;
import dev.cherryq.core.gptq.GptqSettings;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.qat.BlockActivations;
import dev.cherryq.core.qat.BlockwiseTrainer;
import dev.cherryq.core.qat.EndToEndPhase;
import dev.cherryq.core.qat.QatSettings;
import dev.cherryq.core.qat.QatCheckpoint;
import dev.cherryq.core.qat.QatTrainer;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.RtnQuantizer;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.DepthStreamedScorer;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.ImpactScorer;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.GroupAwareScores;
import dev.cherryq.core.selection.SaliencyScores;
import dev.cherryq.core.selection.CherrySet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The steps of a quantization job, each a plain synchronous call on core types: impact scoring over calibration
 * samples (Cui and Wang, 2024, Sec. 3), cherry selection, the start of training (the model itself, or GPTQ's
 * rounding, Frantar et al., 2023), training (Sec. 4: unified mixed-precision QAT, with cross-entropy or distillation
 * from the full-precision model), export to the packed and dense forms, and perplexity. {@code cherryq quantize} runs them in one process; the fleet's
 * stage handlers run the same calls on their share of the work (a scoring shard, a training segment, an evaluation
 * shard), so the two cannot drift apart.
 */
public final class CherryqPipeline {

    private CherryqPipeline() {}

    /**
     * The recipe's calibration samples of {@code length} tokens drawn from {@code tokens} with its seed. When the
     * calibration text is also the training text, they are drawn only from the part training uses, never from the
     * validation windows at its end ({@link #split}).
     */
    public static CalibrationSamples calibrationSamples(QuantizationRecipe recipe, int[] tokens, int length,
            boolean alsoTrainingText) {
        int[] drawn = alsoTrainingText ? split(recipe, tokens, length).train() : tokens;
        return new CalibrationSamples(drawn, recipe.calibrationSamples(), length, recipe.seed());
    }

    /**
     * The training text cut in two: the windows trained on, and the last {@code validationWindows} whole windows,
     * held out for validation (none when the recipe sets none or the method does not train).
     *
     * @param validation null when there is none
     */
    public record Split(int[] train, TokenWindows validation) {}

    /** Splits training tokens as the recipe says; refuses text too short to leave a window to train on. */
    public static Split split(QuantizationRecipe recipe, int[] tokens, int length) {
        int windows = recipe.method().trains() ? recipe.training().validationWindows() : 0;
        if (windows == 0) {
            return new Split(tokens, null);
        }
        int held = windows * length;
        if (tokens.length - held < length) {
            throw new dev.cherryq.core.InvalidInputException("the training text has " + tokens.length + " tokens: "
                    + "too few to hold out validation_windows " + windows + " of " + length + " tokens and train on "
                    + "at least one more window; give more text or fewer validation windows (0 = none)");
        }
        int cut = tokens.length - held;
        return new Split(Arrays.copyOf(tokens, cut), new TokenWindows(Arrays.copyOfRange(tokens, cut, tokens.length),
                length));
    }

    /** Score: the empirical Fisher diagonal over calibration samples [from, to), a partial that merges with others. */
    public static FisherPartial score(LlamaModel model, CalibrationSamples samples, int from, int to,
            Progress progress) {
        return ImpactScorer.score(model, samples, from, to, progress);
    }

    /**
     * Scores two short samples on a tiny random model (2 layers, width 32) and throws the result away: what a scoring
     * worker does once at start-up, so the engine's load, its first operations and the JIT's compilation of the
     * scoring path are paid before the worker takes a task, not inside a job's first task. Measured on the 2-core
     * machine under load: a cold worker's first task took 3 s longer to read its inputs and twice as long to
     * compute as its later ones (docs/BENCHMARKS.md, Findings 4).
     */
    public static void warmUpScoring() {
        LlamaConfig config = new LlamaConfig(32, 64, 2, 4, 2, 8, 64, 64, 1e-5, 10000.0, false, 1, 2);
        java.util.SplittableRandom random = new java.util.SplittableRandom(1);
        InMemoryTensors tensors = new InMemoryTensors(null);
        for (LlamaTensorNames.NamedShape expected : LlamaTensorNames.expected(config)) {
            long count = 1;
            for (long size : expected.shape()) {
                count *= size;
            }
            float[] values = new float[(int) count];
            for (int i = 0; i < values.length; i++) {
                values[i] = expected.name().contains("norm") ? 1f : (float) (random.nextDouble() - 0.5) * 0.2f;
            }
            tensors.put(expected.name(), expected.shape(), values);
        }
        int[] tokens = random.ints(256, 3, config.vocabSize()).toArray();
        try (LlamaModel model = LlamaModel.fromTensors(config, tensors)) {
            ImpactScorer.score(model, new CalibrationSamples(tokens, 2, 16, 1), 0, 2, Progress.NONE);
        }
    }

    /** The same partial with one decoder block of the checkpoint in memory at a time ({@link DepthStreamedScorer}). */
    public static FisherPartial scoreDepthStreamed(LlamaCheckpoint checkpoint, CalibrationSamples samples, int from,
            int to, Progress progress) {
        return DepthStreamedScorer.score(checkpoint, samples, from, to, progress);
    }

    /**
     * What the recipe's criterion ranks by, per linear weight: the merged impacts for impact, impact times squared
     * rounding error for saliency, the group's saved error for group-aware, the model's weights for magnitude (|w| is taken by the selector), nothing for
     * random.
     *
     * @param model read for magnitude and saliency
     * @param fisher the merged partials; read for impact and saliency
     */
    public static Map<String, float[]> selectionScores(QuantizationRecipe recipe, LlamaModel model,
            FisherPartial fisher) {
        return switch (recipe.criterion()) {
            case IMPACT -> fisher.impacts();
            case SALIENCY -> fisherWeighted(fisher.impacts(), linearWeights(model), model.config(), recipe.quantSpec(),
                    false);
            case GROUP_AWARE -> fisherWeighted(fisher.impacts(), linearWeights(model), model.config(),
                    recipe.quantSpec(), true);
            case MAGNITUDE -> linearWeights(model);
            case RANDOM -> Map.of();
        };
    }

    /**
     * The selection scores of some linear weights only (one layer group), for the criteria that rank each weight
     * matrix on its own data: impact, saliency and group-aware. Each matrix's scores are the same numbers
     * {@link #selectionScores} gives for it on the whole model, from the same merged sums.
     *
     * @param fisher the merged partials of these weights (every calibration sample)
     * @param weights the weights themselves, row-major; read for saliency and group-aware
     * @param shapes per weight name, [rows, columns], in the order to score them
     */
    public static Map<String, float[]> layerSelectionScores(QuantizationRecipe recipe, FisherPartial fisher,
            Map<String, float[]> weights, Map<String, long[]> shapes) {
        return switch (recipe.criterion()) {
            case IMPACT -> fisher.impacts();
            case SALIENCY -> fisherWeighted(fisher.impacts(), weights, shapes, recipe.quantSpec(), false);
            case GROUP_AWARE -> fisherWeighted(fisher.impacts(), weights, shapes, recipe.quantSpec(), true);
            case MAGNITUDE, RANDOM -> throw new IllegalArgumentException(recipe.criterion().cliName()
                    + " selection uses no Fisher partials: select it on the whole model");
        };
    }

    /** Select the cherries of some linear weights (one layer group) from their scores; impact-based criteria only. */
    public static CherrySet selectLayers(QuantizationRecipe recipe, Map<String, long[]> shapes,
            Map<String, float[]> scores) {
        return CherrySelector.select(recipe.criterion(), recipe.cherryFraction(), scores, shapes, recipe.seed());
    }

    /** Saliency, or with {@code groupAware} the group-aware scores, of every linear weight. */
    private static Map<String, float[]> fisherWeighted(Map<String, float[]> impacts, Map<String, float[]> weights,
            LlamaConfig config, QuantSpec spec, boolean groupAware) {
        return fisherWeighted(impacts, weights, LlamaTensorNames.linearWeightShapes(config), spec, groupAware);
    }

    /** Saliency, or with {@code groupAware} the group-aware scores, of the weights of {@code shapes}. */
    private static Map<String, float[]> fisherWeighted(Map<String, float[]> impacts, Map<String, float[]> weights,
            Map<String, long[]> shapes, QuantSpec spec, boolean groupAware) {
        Map<String, float[]> scores = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> {
            int rows = (int) shape[0];
            int columns = (int) shape[1];
            scores.put(name, groupAware ? GroupAwareScores.of(impacts.get(name), weights.get(name), rows, columns, spec)
                    : SaliencyScores.of(impacts.get(name), weights.get(name), rows, columns, spec));
        });
        return scores;
    }

    /** Select: the cherries of every linear weight under the recipe's criterion, fraction and seed. */
    public static CherrySet select(QuantizationRecipe recipe, LlamaConfig config, Map<String, float[]> scores) {
        if (!recipe.selects()) {
            return CherrySet.empty();
        }
        return CherrySelector.select(recipe.criterion(), recipe.cherryFraction(), scores,
                LlamaTensorNames.linearWeightShapes(config), recipe.seed());
    }

    /**
     * Where training (or GPTQ alone) starts, and the identity of those weights for training checkpoints.
     *
     * @param weights the source model's weights hash, plus GPTQ's settings and calibration set when it starts there
     * @param gptq GPTQ's outcome when it ran now; null when the recipe does not use it or a checkpoint resumes
     */
    public record Start(String weights, GptqQuantizer.Result gptq) {}

    /**
     * Prepares the model training starts from: as loaded, or GPTQ's weights for {@code init} gptq (and the gptq
     * method). Call it on the freshly loaded source model; when {@code resuming}, GPTQ is not run again, since the
     * checkpoint holds its result, but the start keeps the same identity.
     *
     * @param samples calibration samples; read only when the recipe uses GPTQ
     */
    public static Start start(LlamaModel model, QuantizationRecipe recipe, CalibrationSamples samples,
            CherrySet cherries, boolean resuming, Progress progress) {
        String weights = QatCheckpoint.weightsFingerprint(model.parameters());
        if (!recipe.usesGptq()) {
            return new Start(weights, null);
        }
        String derived = weights + " then gptq(dampening " + recipe.gptqDampening() + ", act-order "
                + recipe.gptqActOrder() + ", calibration " + samples.fingerprint() + ", cherries " + cherries.fingerprint()
                + ")";
        return new Start(derived, resuming ? null : gptq(model, recipe, samples, cherries, progress));
    }

    /**
     * GPTQ (Frantar et al., 2023): replaces the model's linear weights in place with latent weights that round to
     * GPTQ's codes under the recipe's format; the cherries are kept out of its rounding. Export then writes exactly
     * GPTQ's result, and training started from here starts from it.
     */
    public static GptqQuantizer.Result gptq(LlamaModel model, QuantizationRecipe recipe, CalibrationSamples samples,
            CherrySet cherries, Progress progress) {
        // scales rounded to f16 as the packed format stores them, so that the export reproduces GPTQ's codes exactly
        return GptqQuantizer.quantize(model, samples, recipe.quantSpec(), cherries, new GptqSettings(
                recipe.gptqDampening(), GptqSettings.DEFAULT_BLOCK_SIZE, recipe.gptqActOrder(), true), progress);
    }

    /** One line on a GPTQ run: its Hessian-weighted error against round to nearest's. */
    public static String describe(GptqQuantizer.Result result) {
        return String.format(java.util.Locale.ROOT, "GPTQ: weighted error %.3g (RTN %.3g, ratio %.3f) in %.1f s",
                result.totalGptqError(), result.totalRtnError(), result.totalRtnError() == 0 ? 1
                        : result.totalGptqError() / result.totalRtnError(), result.seconds());
    }

    /**
     * Train, from {@link #start}, with cross-entropy or distillation from {@code source} (the recipe's loss): QAT
     * steps up to {@code untilStep} (the whole run when it equals the recipe's steps), resuming from and
     * checkpointing to {@code checkpointDir} every {@code checkpointEvery} steps (0 = only at the end). The last
     * validation windows of the training text ({@link #split}) are never trained on; they are scored at the start,
     * every {@link #validationEvery} steps and at every segment's end, and the run ends holding the best weights on
     * them, its start when no step beat it.
     */
    public static QatTrainer.Result train(LlamaModel model, LlamaCheckpoint source, Start start,
            QuantizationRecipe recipe, CherrySet cherries, int[] trainTokens, Path checkpointDir, int checkpointEvery,
            int untilStep, Progress progress) {
        int length = recipe.sequenceLength(model.config());
        Split split = split(recipe, trainTokens, length);
        QatTrainer.Validation validation = split.validation() == null ? null : new QatTrainer.Validation(
                split.validation(), validationEvery(recipe, checkpointEvery), VALIDATION_BATCH);
        boolean distill = recipe.training().loss() == TrainingLoss.DISTILLATION;
        try (LlamaModel teacher = distill ? LlamaModel.load(source) : null) { // the full-precision source
            return QatTrainer.train(model, teacher, start.weights(), recipe.quantSpec(), cherries, split.train(),
                    validation, recipe.qatSettings(length, checkpointEvery), checkpointDir, untilStep, progress);
        }
    }

    /** Windows per forward pass when scoring validation windows. */
    private static final int VALIDATION_BATCH = 8;

    /** Where a block-wise run's captured activations live: the training windows' and the validation windows'. */
    public record CaptureFolders(Path train, Path validation) {}

    /**
     * The training windows block-wise training sees, by their starts in the trained part of the text: those of
     * every micro-batch of the end-to-end run with the same recipe, so both see the same tokens.
     */
    public static int[] blockwiseWindowStarts(QuantizationRecipe recipe, int[] trainTokens, int length) {
        return BlockwiseTrainer.trainingWindowStarts(split(recipe, trainTokens, length).train().length,
                recipe.qatSettings(length, 0));
    }

    /**
     * Capture (block-wise training): the full-precision model's hidden states at every block boundary for training
     * windows {@code [from, to)} of {@link #blockwiseWindowStarts} (a shard), and with {@code withValidation} for
     * every validation window of the text.
     *
     * @return the bytes written
     */
    public static long captureBlockInputs(LlamaCheckpoint source, QuantizationRecipe recipe, int[] trainTokens,
            int from, int to, boolean withValidation, CaptureFolders folders, Progress progress) {
        int length = recipe.sequenceLength(source.config());
        Split split = split(recipe, trainTokens, length);
        int[] starts = Arrays.copyOfRange(BlockwiseTrainer.trainingWindowStarts(split.train().length,
                recipe.qatSettings(length, 0)), from, to);
        long bytes = BlockActivations.capture(source, split.train(), starts, length, folders.train(), progress);
        if (withValidation && split.validation() != null) {
            int[] validationStarts = new int[split.validation().count()];
            for (int i = 0; i < validationStarts.length; i++) {
                validationStarts[i] = i * length;
            }
            bytes += BlockActivations.capture(source, split.validation().tokens(), validationStarts, length,
                    folders.validation(), Progress.NONE);
        }
        return bytes;
    }

    /**
     * Train one block (block-wise training) on the captured activations of every shard, in shard order, keeping
     * its best weights on the captured validation windows when there are any.
     *
     * @param source the weights the block starts from (the full-precision model's, or GPTQ's latent weights)
     */
    public static BlockwiseTrainer.Result trainBlock(LlamaCheckpoint source, QuantizationRecipe recipe,
            CherrySet cherries, int layer, List<Path> trainShards, Path validationFolder, Progress progress) {
        BlockwiseTrainer.Pairs validation = validationFolder == null
                || !Files.exists(BlockActivations.file(validationFolder, layer)) ? null
                : BlockwiseTrainer.Pairs.read(List.of(BlockActivations.file(validationFolder, layer)),
                        List.of(BlockActivations.file(validationFolder, layer + 1)));
        return trainBlock(source, recipe, cherries, layer, BlockwiseTrainer.Pairs.read(
                trainShards.stream().map(folder -> BlockActivations.file(folder, layer)).toList(),
                trainShards.stream().map(folder -> BlockActivations.file(folder, layer + 1)).toList()), validation,
                progress);
    }

    /** The same on activations already read: {@code validation} null for none. */
    public static BlockwiseTrainer.Result trainBlock(LlamaCheckpoint source, QuantizationRecipe recipe,
            CherrySet cherries, int layer, BlockwiseTrainer.Pairs train, BlockwiseTrainer.Pairs validation,
            Progress progress) {
        return trainBlock(source, recipe, cherries, layer, train, validation, null, 0, folder -> { }, progress);
    }

    /**
     * The same, resuming from and checkpointing to {@code checkpointDir} every {@code checkpointEvery} steps
     * ({@link BlockwiseTrainer}; null: none), each checkpoint handed to {@code saved}.
     */
    public static BlockwiseTrainer.Result trainBlock(LlamaCheckpoint source, QuantizationRecipe recipe,
            CherrySet cherries, int layer, BlockwiseTrainer.Pairs train, BlockwiseTrainer.Pairs validation,
            Path checkpointDir, int checkpointEvery, java.util.function.Consumer<Path> saved, Progress progress) {
        int length = recipe.sequenceLength(source.config());
        return BlockwiseTrainer.train(source, layer, train, validation, recipe.quantSpec(), cherries,
                recipe.qatSettings(length, checkpointEvery), validationEvery(recipe, 0), checkpointDir, saved,
                progress);
    }

    /**
     * Block-wise training in one process: capture from the full-precision {@code source}, then every block in turn,
     * from {@code model}'s weights (the source's, or GPTQ's after {@link #start}), each written back into
     * {@code model} as it finishes; {@code workFolder} holds the activations.
     */
    public static List<BlockwiseTrainer.Result> trainBlockwise(LlamaModel model, LlamaCheckpoint source,
            QuantizationRecipe recipe, CherrySet cherries, int[] trainTokens, Path workFolder, Progress progress) {
        int length = recipe.sequenceLength(source.config());
        CaptureFolders folders = new CaptureFolders(workFolder.resolve("train"), workFolder.resolve("validation"));
        int windows = blockwiseWindowStarts(recipe, trainTokens, length).length;
        captureBlockInputs(source, recipe, trainTokens, 0, windows, true, folders, Progress.NONE);
        int layers = source.config().numberOfLayers();
        int steps = recipe.training().steps();
        List<BlockwiseTrainer.Result> results = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            int done = layer * steps;
            InMemoryTensors start = new InMemoryTensors(null);
            for (Map.Entry<String, NDArray> entry : model.parameters().entrySet()) {
                if (LlamaTensorNames.layerOf(entry.getKey()) == layer) {
                    start.put(entry.getKey(), entry.getValue().getShape().getShape(), entry.getValue().toFloatArray());
                }
            }
            LlamaCheckpoint startWeights = new LlamaCheckpoint(null, "memory", source.config(), start);
            BlockwiseTrainer.Result result = trainBlock(startWeights, recipe, cherries, layer, List.of(folders.train()),
                    folders.validation(), (step, total, detail) -> progress.update(done + step, layers * steps,
                            detail));
            setBlock(model, result.weights());
            results.add(result);
        }
        return results;
    }

    /**
     * The end-to-end phase after block-wise training ({@link EndToEndPhase}), when the recipe asks for one: the
     * whole model's loss (the recipe's: cross-entropy on the text, or distillation from the full-precision model,
     * whose last hidden states are read from the capture's last depth, {@code lastDepthFiles}) trains
     * only the cherries and the norms of {@code model}, which holds every trained block, on block-wise training's
     * windows; the held-out windows are scored at the start, every quarter of the phase and at its end, and the
     * model ends on the best weights.
     *
     * @param source the full-precision model: the teacher's final norm and head
     * @param lastDepthFiles the capture's files of the last depth, one per shard in shard order; read only for
     *     distillation
     */
    public static EndToEndPhase.Result trainEndToEndPhase(LlamaModel model, LlamaCheckpoint source,
            QuantizationRecipe recipe, CherrySet cherries, int[] trainTokens, List<Path> lastDepthFiles,
            Progress progress) {
        int length = recipe.sequenceLength(source.config());
        Split split = split(recipe, trainTokens, length);
        int[] starts = BlockwiseTrainer.trainingWindowStarts(split.train().length, recipe.qatSettings(length, 0));
        QatSettings settings = recipe.endToEndSettings(length);
        QatTrainer.Validation validation = split.validation() == null ? null : new QatTrainer.Validation(
                split.validation(), Math.max(1, (settings.steps() + 3) / 4), VALIDATION_BATCH);
        boolean distill = recipe.training().loss() == TrainingLoss.DISTILLATION;
        try (LlamaModel head = distill ? LlamaModel.loadWithoutBlocks(source) : null) {
            EndToEndPhase.Teacher teacher = !distill ? null : new EndToEndPhase.Teacher(head, BlockActivations.read(
                    lastDepthFiles));
            return EndToEndPhase.train(model, recipe.quantSpec(), cherries, split.train(), starts, teacher,
                    validation, settings, progress);
        }
    }

    /** Writes a block's trained tensors into the model's parameters in place. */
    public static void setBlock(LlamaModel model, Map<String, float[]> weights) {
        try (NDManager scope = DjlRuntime.newManager()) {
            weights.forEach((name, values) -> {
                NDArray parameter = model.parameters().get(name);
                if (parameter == null) {
                    throw new IllegalArgumentException(name + " is not a parameter of the model");
                }
                parameter.muli(0).addi(NativeArrays.of(scope, values, parameter.getShape()));
            });
        }
    }

    /** Steps between validation scores: the checkpoint interval when there is one, else a quarter of the run. */
    public static int validationEvery(QuantizationRecipe recipe, int checkpointEvery) {
        return checkpointEvery > 0 ? checkpointEvery : Math.max(1, (recipe.training().steps() + 3) / 4);
    }

    /**
     * Export: the model's current (latent) weights quantized under the recipe's format with the cherries kept,
     * written as the packed and the dense form, with the source's tokenizer.
     */
    public static PackedModel.Summary export(LlamaModel model, LlamaCheckpoint source, QuantizationRecipe recipe,
            CherrySet cherries, Path folder, Progress progress) {
        String method = recipe.method().wireName();
        InMemoryTensors weights = new InMemoryTensors(folder);
        model.parameters().forEach((name, value) -> weights.put(name, value.getShape().getShape(),
                value.toFloatArray()));
        PackedModel.Summary summary = PackedModel.write(folder, source.config(), weights, recipe.quantSpec(), cherries,
                PackedModel.quantizationConfig(method, recipe.quantSpec(), cherries), Map.of("cherryq.method", method),
                progress);
        source.bundledTokenizer().ifPresent(tokenizer -> HfModelWriter.copyTokenizer(tokenizer, folder));
        return summary;
    }

    /** Export without any model in memory: the source checkpoint rounded to nearest (the rtn method and baseline). */
    public static PackedModel.Summary exportRoundToNearest(LlamaCheckpoint source, QuantizationRecipe recipe,
            Path folder, Progress progress) {
        return RtnQuantizer.quantize(source, recipe.quantSpec(), folder, progress);
    }

    /** Evaluate: NLL over windows [fromWindow, toWindow) of {@code length} tokens cut from {@code tokens}. */
    public static PerplexityResult evaluate(LlamaModel model, int[] tokens, int length, int fromWindow, int toWindow,
            int batchSize, Progress progress) {
        TokenWindows windows = new TokenWindows(Arrays.copyOfRange(tokens, fromWindow * length, toWindow * length),
                length);
        return new PerplexityEvaluator(model, batchSize).evaluate(windows, progress);
    }

    /** The same with one decoder block of the checkpoint in memory at a time ({@link DepthStreamedEvaluator}). */
    public static PerplexityResult evaluateDepthStreamed(LlamaCheckpoint checkpoint, int[] tokens, int length,
            int fromWindow, int toWindow, int batchSize, Progress progress) {
        TokenWindows windows = new TokenWindows(Arrays.copyOfRange(tokens, fromWindow * length, toWindow * length),
                length);
        return DepthStreamedEvaluator.evaluate(checkpoint, windows, batchSize, progress);
    }

    /**
     * Bits per linear weight of a full-precision checkpoint as stored (16 for bf16 or f16, 32 for f32): the fp row's
     * effective bits, comparable with a quantized model's.
     */
    public static double storedBitsPerLinearWeight(LlamaCheckpoint checkpoint) {
        long bits = 0;
        long weights = 0;
        for (String name : LlamaTensorNames.linearWeights(checkpoint.config())) {
            var info = checkpoint.tensors().info(name);
            bits += info.elementCount() * info.dtype().byteSize() * 8L;
            weights += info.elementCount();
        }
        return (double) bits / weights;
    }

    /** Every decoder linear weight of the model, row-major. */
    private static Map<String, float[]> linearWeights(LlamaModel model) {
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (String name : LlamaTensorNames.linearWeights(model.config())) {
            weights.put(name, model.parameters().get(name).toFloatArray());
        }
        return weights;
    }
}
