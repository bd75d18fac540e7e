package dev.cherryq.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.qat.QatCheckpoint;
import dev.cherryq.core.qat.QatSettings;
import dev.cherryq.core.qat.QatTrainer;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.RtnQuantizer;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.ImpactScorer;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code cherryq quantize}: RTN, plain QAT, or CherryQ, written as a packed + dense HF folder. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantizes every decoder linear weight (q, k, v, o, gate, up, down) group-wise; embeddings,",
                "norms and lm_head stay in full precision. Methods:",
                "  rtn      round to nearest, no training",
                "  qat      quantization-aware training of all weights through the straight-through estimator",
                "  cherryq  impact scoring on --calib-text, cherry selection, then QAT with the cherries kept in",
                "           full precision (Cui and Wang, 2024)",
                "Writes model.safetensors (dense), cherryq-packed.safetensors (deployable), config.json with",
                "quantization_config, the tokenizer, and quantize.json (settings, losses, time and RSS per stage).",
                "A run interrupted during training resumes from its last checkpoint in OUT/checkpoint."})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "HF model folder or llama2.c .bin checkpoint")
    Path model;

    @Option(names = "--tokenizer", description = "tokenizer (default: the model folder's)")
    Path tokenizerPath;

    @Option(names = "--method", defaultValue = "cherryq", description = "rtn, qat or cherryq (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--bits", required = true, description = "bits per normal weight, 2..8")
    int bits;

    @Option(names = "--group-size", defaultValue = "128", description = "weights per group along a row; -1 = whole row (default: ${DEFAULT-VALUE})")
    int groupSize;

    @Option(names = "--scheme", defaultValue = "sym-full", description = "sym-full (the paper's) or asym (default: ${DEFAULT-VALUE})")
    String scheme;

    @Option(names = "--cherry-fraction", defaultValue = "0.00390625", description = "share of each row kept in full precision, 0..0.5; per row max(1, round(f x columns)) (default: 1/256)")
    double cherryFraction;

    @Option(names = "--criterion", defaultValue = "impact", description = "impact, magnitude or random (default: ${DEFAULT-VALUE})")
    String criterion;

    @Option(names = "--calib-text", description = "calibration text for impact scoring (cherryq with --criterion impact)")
    Path calibText;

    @Option(names = "--calib-samples", defaultValue = "128", description = "calibration samples of --seq-len tokens (default: ${DEFAULT-VALUE})")
    int calibSamples;

    @Option(names = "--train-text", description = "training text for QAT (qat, cherryq)")
    Path trainText;

    @Option(names = "--steps", defaultValue = "200", description = "QAT steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--seq-len", description = "sample and window length (default: min(512, the model's max positions))")
    Integer sequenceLength;

    @Option(names = "--batch-size", defaultValue = "4", description = "windows per micro-batch (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--grad-accum", defaultValue = "1", description = "micro-batches per step (default: ${DEFAULT-VALUE})")
    int gradientAccumulation;

    @Option(names = "--lr", defaultValue = "1e-4", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    float learningRate;

    @Option(names = "--seed", defaultValue = "0", description = "seed for calibration samples, batches and random cherries (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--checkpoint-every", defaultValue = "50", description = "steps between QAT checkpoints, 0 = only at the end (default: ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Option(names = "--out", required = true, description = "output folder")
    Path out;

    @Override
    public Integer call() throws IOException {
        // validate everything before any compute
        QuantSpec quantSpec = new QuantSpec(bits, groupSize, QuantScheme.parse(scheme));
        if (!method.equals("rtn") && !method.equals("qat") && !method.equals("cherryq")) {
            throw new InvalidInputException("--method '" + method + "' is not supported (supported: rtn, qat, cherryq)");
        }
        SelectionCriterion selection = SelectionCriterion.parse(criterion);
        CherrySelector.validateFraction(cherryFraction);
        boolean training = !method.equals("rtn");
        boolean scoring = method.equals("cherryq") && selection == SelectionCriterion.IMPACT && cherryFraction > 0;
        if (training && trainText == null) {
            throw new InvalidInputException("--method " + method + " needs --train-text FILE");
        }
        if (scoring && calibText == null) {
            throw new InvalidInputException("--method cherryq with --criterion impact needs --calib-text FILE");
        }
        PrintWriter console = spec.commandLine().getOut();
        StageMeter meter = new StageMeter();
        ObjectNode record = Json.object();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            int length = sequenceLength != null ? sequenceLength : Math.min(512, checkpoint.config().maxPositionEmbeddings());
            QatSettings settings = training ? new QatSettings(steps, batchSize, length, gradientAccumulation, learningRate,
                    0.05, QatSettings.defaultFloor(bits), 0f, 1.0f, seed, checkpointEvery) : null;
            if (method.equals("rtn")) {
                meter.start("export");
                try (ProgressBar bar = new ProgressBar("quantize rtn")) {
                    PackedModel.Summary summary = RtnQuantizer.quantize(checkpoint, quantSpec, out, bar);
                    record.put("effective_bits_per_weight", summary.effectiveBits());
                }
            } else {
                quantizeWithTraining(checkpoint, quantSpec, selection, scoring, settings, length, meter, record, console);
            }
            if (tokenizerPath != null) {
                HfModelWriter.copyTokenizer(tokenizerPath, out);
            }
        }
        record.put("method", method).put("bits", bits).put("group_size", groupSize).put("scheme", scheme)
                .put("seed", seed).put("model", model.toString());
        record.set("stages", meter.stages());
        Files.writeString(out.resolve("quantize.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(record) + "\n");
        console.printf("wrote %s: %s %d-bit g%d %s, %.3f effective bits per linear weight%n", out, method, bits, groupSize,
                scheme, record.path("effective_bits_per_weight").asDouble());
        for (var stage : record.get("stages")) {
            console.printf("  %-8s %7.1f s   peak RSS %s%n", stage.get("stage").asText(), stage.get("seconds").asDouble(),
                    stage.get("peak_rss_mib").isNull() ? "unknown" : String.format("%.0f MiB",
                            stage.get("peak_rss_mib").asDouble()));
        }
        return 0;
    }

    private void quantizeWithTraining(LlamaCheckpoint checkpoint, QuantSpec quantSpec, SelectionCriterion selection,
            boolean scoring, QatSettings settings, int length, StageMeter meter, ObjectNode record, PrintWriter console)
            throws IOException {
        Tokenizer tokenizer = CherryqCommand.tokenizerFor(tokenizerPath, checkpoint);
        Files.createDirectories(out);
        try (LlamaModel llama = LlamaModel.load(checkpoint)) {
            CherrySet cherries = CherrySet.empty();
            if (method.equals("cherryq") && cherryFraction > 0) {
                Map<String, float[]> scores = new LinkedHashMap<>();
                Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(checkpoint.config());
                if (scoring) {
                    meter.start("score");
                    int[] calibration = EvalCorpus.tokenizeText(calibText, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
                    CalibrationSamples samples = new CalibrationSamples(calibration, calibSamples, length, seed);
                    FisherPartial fisher;
                    try (ProgressBar bar = new ProgressBar("score")) {
                        fisher = ImpactScorer.score(llama, samples, 0, samples.count(), bar);
                    }
                    fisher.write(out.resolve("fisher.safetensors"));
                    scores = fisher.impacts();
                } else if (selection == SelectionCriterion.MAGNITUDE) {
                    for (String name : shapes.keySet()) {
                        scores.put(name, llama.parameters().get(name).toFloatArray());
                    }
                }
                meter.start("select");
                cherries = CherrySelector.select(selection, cherryFraction, scores, shapes, seed);
                cherries.write(out.resolve("cherries.safetensors"));
                console.printf("selected %,d cherries (%s, %d-%d per row)%n", cherries.totalCherries(),
                        selection.cliName(), cherries.layers().values().stream().mapToInt(CherrySet.Layer::perRow).min()
                                .orElse(0), cherries.layers().values().stream().mapToInt(CherrySet.Layer::perRow).max()
                                .orElse(0));
            }
            meter.start("train");
            int[] trainTokens = EvalCorpus.tokenizeText(trainText, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
            Path checkpointDir = out.resolve("checkpoint");
            if (QatCheckpoint.exists(checkpointDir)) {
                console.printf("resuming from the checkpoint in %s%n", checkpointDir);
            }
            QatTrainer.Result result;
            ArrayNode rssByStep = Json.MAPPER.createArrayNode();
            try (ProgressBar bar = new ProgressBar("qat")) {
                result = QatTrainer.train(llama, quantSpec, cherries, trainTokens, settings, checkpointDir,
                        (done, total, detail) -> {
                            bar.update(done, total, detail);
                            if (done % 10 == 0) { // resident memory over the run: flat means no leak
                                rssByStep.addObject().put("step", done)
                                        .put("rss_mib", StageMeter.statusKilobytes("VmRSS:") / 1024.0);
                            }
                        });
            }
            meter.start("export");
            InMemoryTensors trained = new InMemoryTensors(out);
            llama.parameters().forEach((name, value) -> trained.put(name, value.getShape().getShape(), value.toFloatArray()));
            PackedModel.Summary summary;
            try (ProgressBar bar = new ProgressBar("export")) {
                summary = PackedModel.write(out, checkpoint.config(), trained, quantSpec, cherries,
                        PackedModel.quantizationConfig(method, quantSpec, cherries), Map.of("cherryq.method", method), bar);
            }
            checkpoint.bundledTokenizer().ifPresent(t -> HfModelWriter.copyTokenizer(t, out));
            CherryqCommand.deleteRecursively(checkpointDir);
            record.put("effective_bits_per_weight", summary.effectiveBits());
            record.put("cherries", summary.cherries());
            record.put("criterion", cherries.isEmpty() ? "none" : selection.cliName());
            record.put("cherry_fraction", cherries.isEmpty() ? 0 : cherryFraction);
            ObjectNode training = record.putObject("training");
            training.put("steps", settings.steps()).put("batch_size", settings.batchSize()).put("seq_len", length)
                    .put("grad_accum", settings.gradientAccumulation()).put("lr", settings.learningRate())
                    .put("floor_fraction", settings.floorFraction()).put("resumed_at_step", result.startedAtStep())
                    .put("train_tokens", trainTokens.length);
            training.set("rss_mib_every_10_steps", rssByStep);
            ArrayNode losses = training.putArray("losses");
            result.losses().forEach(losses::add);
            TrainingPlots.lossCurveOrWarn(result.losses().stream().map(Float::doubleValue).toList(),
                    "QAT loss, " + method + " " + bits + "-bit", out.resolve("loss.png"));
        }
    }
}
