package dev.cherryq.launcher.local;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.gptq.GptqQuantizer;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.qat.QatCheckpoint;
import dev.cherryq.core.qat.BlockActivations;
import dev.cherryq.core.qat.BlockwiseTrainer;
import dev.cherryq.core.qat.EndToEndPhase;
import dev.cherryq.core.qat.QatTrainer;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.fleet.job.Folders;
import dev.cherryq.fleet.metrics.ProcessMemory;
import dev.cherryq.fleet.job.ResultsTable;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.output.ProgressBar;
import dev.cherryq.launcher.output.TrainingPlots;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One quantization job in this process: a recipe run through {@link CherryqPipeline} (score, select, GPTQ, train,
 * export) on one model in memory, with progress bars, a record of settings, losses, time and memory per stage
 * ({@code quantize.json}), and a resumable training checkpoint. {@code cherryq quantize}, {@code demo} and
 * {@code report} run their jobs through it.
 *
 * @param tokenizerPath the tokenizer, or null for the model folder's
 * @param calibText calibration text, needed for impact scoring and GPTQ
 * @param trainText training text, needed by qat and cherryq
 * @param checkpointEvery steps between training checkpoints in {@code out/checkpoint}, 0 = only at the end
 */
public record LocalJob(QuantizationRecipe recipe, Path model, Path tokenizerPath, Path calibText, Path trainText,
        int checkpointEvery, Path out) {

    /** Checks every input before any compute; the messages name the command-line flags. */
    public LocalJob {
        if (recipe.method().trains() && trainText == null) {
            throw new InvalidInputException("--method " + recipe.method().wireName() + " needs --train-text FILE");
        }
        if (recipe.needsCalibration() && calibText == null) {
            throw new InvalidInputException("--method " + recipe.method().wireName() + (recipe.scores()
                    ? " with --criterion " + recipe.criterion().cliName() : "") + (recipe.usesGptq() ? " (GPTQ)" : "")
                    + " needs --calib-text FILE");
        }
        if (checkpointEvery < 0) {
            throw new InvalidInputException("--checkpoint-every " + checkpointEvery + " must be 0 (never) or positive");
        }
    }

    /** Runs the job, writes the model folder and quantize.json, and returns the record. */
    public ObjectNode run(PrintWriter console) throws IOException {
        QuantizationRecipe recipe = this.recipe;
        StageMeter meter = new StageMeter();
        ObjectNode record = Json.object();
        PackedModel.Summary summary;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            recipe = recipe.withSequenceLength(recipe.sequenceLength(checkpoint.config()));
            Files.createDirectories(out);
            if (recipe.method() == QuantMethod.RTN) {
                meter.start("export");
                try (ProgressBar bar = new ProgressBar("quantize rtn")) {
                    summary = CherryqPipeline.exportRoundToNearest(checkpoint, recipe, out, bar);
                }
            } else {
                summary = quantizeWithData(checkpoint, recipe, meter, record, console);
            }
            if (tokenizerPath != null) {
                HfModelWriter.copyTokenizer(tokenizerPath, out);
            }
        }
        record.put("method", recipe.method().wireName()).put("bits", recipe.bits()).put("group_size", recipe.groupSize())
                .put("scheme", recipe.scheme().cliName()).put("seed", recipe.seed()).put("model", model.toString())
                .put("effective_bits_per_weight", summary.effectiveBits()).put("cherries", summary.cherries())
                .put("tokenizer", pathOrNull(tokenizerPath)).put("calib_text", pathOrNull(calibText))
                .put("train_text", pathOrNull(trainText));
        record.set("recipe", Json.MAPPER.valueToTree(recipe.fields())); // as a request would carry it
        record.set("stages", meter.stages());
        Files.writeString(out.resolve("quantize.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(record) + "\n");
        console.printf("wrote %s: %s, %.3f effective bits per linear weight%n", out, recipe.describe(),
                summary.effectiveBits());
        for (var stage : record.get("stages")) {
            console.printf("  %-9s %7.1f s   peak RSS %s%n", stage.get("stage").asText(), stage.get("seconds").asDouble(),
                    stage.get("peak_rss_mib").isNull() ? "unknown" : String.format("%.0f MiB",
                            stage.get("peak_rss_mib").asDouble()));
        }
        return record;
    }

    private static String pathOrNull(Path path) {
        return path == null ? null : path.toString();
    }

    /** Score, select, GPTQ, train and export, as the recipe asks, on one model in memory. */
    private PackedModel.Summary quantizeWithData(LlamaCheckpoint checkpoint, QuantizationRecipe recipe,
            StageMeter meter, ObjectNode record, PrintWriter console) throws IOException {
        Tokenizer tokenizer = checkpoint.tokenizer(tokenizerPath);
        int length = recipe.sequenceLength();
        try (LlamaModel llama = LlamaModel.load(checkpoint)) {
            int[] calibration = recipe.needsCalibration()
                    ? EvalCorpus.tokenizeText(calibText, tokenizer, EvalCorpus.DocumentJoin.GPTQ) : null;
            CalibrationSamples samples = calibration == null ? null
                    : CherryqPipeline.calibrationSamples(recipe, calibration, length, calibText.equals(trainText));
            CherrySet cherries = CherrySet.empty();
            if (recipe.selects()) {
                FisherPartial fisher = null;
                if (recipe.scores()) {
                    meter.start("score");
                    try (ProgressBar bar = new ProgressBar("score")) {
                        fisher = CherryqPipeline.score(llama, samples, 0, samples.count(), bar);
                    }
                    fisher.write(out.resolve("fisher.safetensors"));
                }
                meter.start("select");
                cherries = CherryqPipeline.select(recipe, checkpoint.config(),
                        CherryqPipeline.selectionScores(recipe, llama, fisher));
                cherries.write(out.resolve("cherries.safetensors"));
                console.printf("selected %,d cherries (%s, %d-%d per row)%n", cherries.totalCherries(),
                        recipe.criterion().cliName(), cherries.layers().values().stream()
                                .mapToInt(CherrySet.Layer::perRow).min().orElse(0), cherries.layers().values().stream()
                                .mapToInt(CherrySet.Layer::perRow).max().orElse(0));
            }
            // a resumed training run's checkpoint holds its start
            boolean resuming = recipe.method().trains() && QatCheckpoint.exists(out.resolve("checkpoint"));
            CherryqPipeline.Start start;
            if (recipe.usesGptq() && !resuming) {
                meter.start("gptq");
                try (ProgressBar bar = new ProgressBar("gptq")) {
                    start = CherryqPipeline.start(llama, recipe, samples, cherries, false, bar);
                }
            } else {
                start = CherryqPipeline.start(llama, recipe, samples, cherries, resuming, Progress.NONE);
            }
            if (start.gptq() != null) {
                GptqQuantizer.Result gptq = start.gptq();
                record.putObject("gptq").put("weighted_error", gptq.totalGptqError())
                        .put("rtn_weighted_error", gptq.totalRtnError()).put("pinned", gptq.pinnedPositions())
                        .put("seconds", gptq.seconds());
                console.println(CherryqPipeline.describe(gptq));
            }
            record.put("criterion", cherries.isEmpty() ? "none" : recipe.criterion().cliName());
            record.put("cherry_fraction", cherries.isEmpty() ? 0 : recipe.cherryFraction());
            if (recipe.method().trains()) {
                meter.start("train");
                // one text for calibration and training (as the demo uses) is tokenized once
                int[] trainTokens = calibration != null && trainText.equals(calibText) ? calibration
                        : EvalCorpus.tokenizeText(trainText, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
                if (recipe.training().mode() == TrainingMode.BLOCKWISE) {
                    trainBlockwise(llama, checkpoint, recipe, cherries, trainTokens, record, console, meter);
                } else {
                    train(llama, checkpoint, start, recipe, cherries, trainTokens, record, console);
                }
            }
            meter.start("export");
            try (ProgressBar bar = new ProgressBar("export")) {
                return CherryqPipeline.export(llama, checkpoint, recipe, cherries, out, bar);
            }
        }
    }

    /**
     * Block-wise training: capture, then each block in turn, then the end-to-end phase when the recipe asks for it
     * (its own stage in the record); per-block losses and validation, and the phase's, in the record.
     */
    private void trainBlockwise(LlamaModel llama, LlamaCheckpoint source, QuantizationRecipe recipe,
            CherrySet cherries, int[] trainTokens, ObjectNode record, PrintWriter console, StageMeter meter)
            throws IOException {
        Path work = out.resolve("activations");
        List<BlockwiseTrainer.Result> results;
        try (ProgressBar bar = new ProgressBar("blockwise")) {
            results = CherryqPipeline.trainBlockwise(llama, source, recipe, cherries, trainTokens, work, bar);
        }
        EndToEndPhase.Result phase = null;
        if (recipe.training().endToEndPhase()) {
            meter.start("e2e-phase");
            try (ProgressBar bar = new ProgressBar("e2e phase")) {
                phase = CherryqPipeline.trainEndToEndPhase(llama, source, recipe, cherries, trainTokens,
                        List.of(BlockActivations.file(work.resolve("train"), source.config().numberOfLayers())), bar);
            }
        }
        long capturedBytes = Folders.sizeOf(work);
        Folders.deleteRecursively(work);
        QuantizationRecipe.Training settings = recipe.training();
        ObjectNode training = record.putObject("training");
        training.put("mode", settings.mode().wireName()).put("steps", settings.steps())
                .put("batch_size", settings.batchSize()).put("seq_len", recipe.sequenceLength())
                .put("grad_accum", settings.gradientAccumulation()).put("lr", settings.learningRate())
                .put("floor_fraction", recipe.floorFraction()).put("train_tokens", trainTokens.length)
                .put("captured_bytes", capturedBytes);
        ArrayNode blocks = training.putArray("blocks");
        int improved = 0;
        for (BlockwiseTrainer.Result result : results) {
            ObjectNode block = blocks.addObject().put("layer", result.layer()).put("seconds", result.seconds())
                    .put("best_step", result.bestStep());
            ArrayNode validation = block.putArray("validation_mse");
            result.validation().forEach(point -> validation.addObject().put("step", point.step())
                    .put("mse", point.meanNll()));
            ArrayNode losses = block.putArray("losses");
            result.losses().forEach(losses::add);
            improved += result.improvedOnStart() ? 1 : 0;
        }
        console.printf("block-wise: %d of %d blocks beat their round-to-nearest start on held-out block outputs; "
                + "%.1f MiB of activations captured%n", improved, results.size(), capturedBytes / 1048576.0);
        if (phase != null) {
            ObjectNode e2e = training.putObject("e2e_phase").put("steps", settings.endToEndSteps())
                    .put("lr", settings.endToEndLearningRate()).put("loss", settings.loss().wireName())
                    .put("trained_tokens", phase.trainedTokens()).put("seconds", phase.seconds())
                    .put("best_step", phase.bestStep());
            ArrayNode validation = e2e.putArray("validation");
            phase.validation().forEach(point -> validation.addObject().put("step", point.step())
                    .put("mean_nll", point.meanNll()));
            ArrayNode losses = e2e.putArray("losses");
            phase.losses().forEach(losses::add);
            console.printf("end-to-end phase (cherries and norms): %d steps in %.1f s, held-out NLL %s%n",
                    settings.endToEndSteps(), phase.seconds(), phase.validation().isEmpty() ? "not scored"
                    : String.format("%.4f -> %.4f (step %d kept)", phase.validation().get(0).meanNll(),
                            phase.validation().stream().mapToDouble(p -> p.meanNll()).min().orElseThrow(),
                            phase.bestStep()));
        }
    }

    private void train(LlamaModel llama, LlamaCheckpoint source, CherryqPipeline.Start start,
            QuantizationRecipe recipe, CherrySet cherries, int[] trainTokens, ObjectNode record, PrintWriter console)
            throws IOException {
        Path checkpointDir = out.resolve("checkpoint");
        if (QatCheckpoint.exists(checkpointDir)) {
            console.printf("resuming from the checkpoint in %s%n", checkpointDir);
        }
        QatTrainer.Result result;
        ArrayNode rssByStep = Json.MAPPER.createArrayNode();
        try (ProgressBar bar = new ProgressBar("qat")) {
            result = CherryqPipeline.train(llama, source, start, recipe, cherries, trainTokens, checkpointDir,
                    checkpointEvery, recipe.training().steps(), (done, total, detail) -> {
                        bar.update(done, total, detail);
                        if (done % 10 == 0) { // resident memory over the run: flat means no leak
                            rssByStep.addObject().put("step", done)
                                    .put("rss_mib", ProcessMemory.statusKilobytes("VmRSS:") / 1024.0);
                        }
                    });
        }
        Folders.deleteRecursively(checkpointDir);
        QuantizationRecipe.Training settings = recipe.training();
        ObjectNode training = record.putObject("training");
        training.put("steps", settings.steps()).put("batch_size", settings.batchSize())
                .put("seq_len", recipe.sequenceLength()).put("grad_accum", settings.gradientAccumulation())
                .put("lr", settings.learningRate()).put("floor_fraction", recipe.floorFraction())
                .put("loss", settings.loss().wireName())
                .put("resumed_at_step", result.startedAtStep()).put("train_tokens", trainTokens.length);
        training.set("rss_mib_every_10_steps", rssByStep);
        if (!result.validation().isEmpty()) { // as a fleet job's report has it
            ObjectNode validation = training.putObject("validation");
            validation.put("best_step", result.bestStep()).put("steps", settings.steps())
                    .put("windows", settings.validationWindows());
            ArrayNode scores = validation.putArray("scores");
            result.validation().forEach(point -> scores.addObject().put("step", point.step())
                    .put("mean_nll", point.meanNll()));
            console.println(ResultsTable.validationNote(recipe.method().wireName(), validation).strip());
        }
        ArrayNode losses = training.putArray("losses");
        result.losses().forEach(losses::add);
        TrainingPlots.lossCurveOrWarn(result.losses().stream().map(Float::doubleValue).toList(),
                "QAT loss, " + recipe.method().wireName() + " " + recipe.bits() + "-bit", out.resolve("loss.png"));
    }
}
