package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.HeldOutCheck;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.HeterogeneityScore;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.local.LocalJob;
import dev.cherryq.launcher.output.ProgressBar;
import dev.cherryq.launcher.output.LinePlot;

/**
 * {@code cherryq report}: the fidelity table of the paper's comparison on one model (Cui and Wang, 2024, Sec. 5).
 * At each bit width: fp, rtn, gptq, qat, cherryq, and gptq+cherryq, at equal training tokens, the trained rows over
 * several seeds; two controls at equal bits (cherryq with random cherries at the same fraction: does the choice of
 * cherries matter? and qat with a group size that spends the bits the cherries spend: does the budget matter more?);
 * the criterion ablation; the heterogeneity of impact against magnitude in comparable units (F against w squared),
 * also over training checkpoints when given; and a check that the evaluation text is held out. Every run is a
 * {@link LocalJob}, the code path of {@code cherryq quantize}, and the report prints the command that reproduces it.
 */
@Command(name = "report", mixinStandardHelpOptions = true, defaultValueProvider = RecipeOptions.StandardDefaults.class,
        description = {"Runs fp, rtn, gptq, qat, cherryq and gptq+cherryq at each --bits over --seeds, the",
                "equal-bits controls and the criterion ablation, evaluates all on --eval-text, and writes",
                "report.md, report.json and PNG figures to --out."})
final class ReportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipeOptions;

    @Option(names = "--model", required = true, description = "HF model folder or llama2.c .bin checkpoint") Path model;
    @Option(names = "--tokenizer", description = "tokenizer (default: the model folder's)") Path tokenizer;
    @Option(names = "--calib-text", required = true, description = "calibration text for impact scoring and GPTQ") Path calibText;
    @Option(names = "--train-text", required = true, description = "training text for QAT") Path trainText;
    @Option(names = "--eval-text", required = true, description = "held-out text; never used for training or choices") Path evalText;
    @Option(names = "--bits", split = ",", defaultValue = "2,3,4", description = "bit widths to compare (default: ${DEFAULT-VALUE})") List<Integer> widths;
    @Option(names = "--seeds", split = ",", defaultValue = "0,1,2", description = "seeds of the trained rows (default: ${DEFAULT-VALUE})") List<Long> seeds;
    @Option(names = "--variants", split = ",", description = "rows to run, a subset of rtn, gptq, qat, cherryq, "
            + "gptq+cherryq, cherryq-random, qat-equal-bits (default: all; qat-equal-bits needs qat and cherryq)")
    List<String> variants;
    @Option(names = "--ablation-bits", defaultValue = "3", description = "bit width of the criterion ablation, 0 = none (default: ${DEFAULT-VALUE})") int ablationBits;
    @Option(names = "--eval-seq-len", description = "evaluation window (default: --seq-len)") Integer evalSequenceLength;
    @Option(names = "--training-checkpoints", description = "folder of step-N model folders (cherryq pretrain --checkpoint-every): heterogeneity over training") Path trainingCheckpoints;
    @Option(names = "--memory-steps", defaultValue = "0", description = "also run one CherryQ training of this many steps and report its RSS over time (0: skip)") int memorySteps;
    @Option(names = "--reuse", description = "keep a run whose folder under --out holds a finished job of the same "
            + "recipe, model, tokenizer and texts (a report stopped part way, or run again with more --bits or "
            + "--variants), and its evaluation on the same text and window") boolean reuse;
    @Option(names = "--out", required = true, description = "output folder: report.md, report.json, figures, one folder per run") Path out;

    /** Variants in table order. */
    private static final List<String> VARIANTS = List.of("rtn", "gptq", "qat", "cherryq", "gptq+cherryq",
            "cherryq-random", "qat-equal-bits");

    /** Criteria of the ablation beside the recipe's own and random (which the table's rows already have). */
    private static final List<SelectionCriterion> ABLATED = List.of(SelectionCriterion.IMPACT,
            SelectionCriterion.SALIENCY, SelectionCriterion.MAGNITUDE, SelectionCriterion.GROUP_AWARE);

    private final FidelityTable table = new FidelityTable();
    private final List<JsonNode> trainedRecords = new ArrayList<>();
    private QuantizationRecipe base;
    private int windowLength;
    private int evalLength;
    /** The held-out and calibration texts' ids, tokenized once by the held-out check. */
    private int[] evalIds;
    private int[] calibrationIds;

    @Override
    public Integer call() throws IOException {
        PrintWriter console = spec.commandLine().getOut();
        Files.createDirectories(out);
        long parameters;
        double storedBits;
        Tokenizer words;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            base = recipeOptions.toRecipe(widths.get(0));
            windowLength = base.sequenceLength(checkpoint.config());
            base = base.withSequenceLength(windowLength);
            parameters = checkpoint.config().parameterCount();
            storedBits = CherryqPipeline.storedBitsPerLinearWeight(checkpoint);
            words = checkpoint.tokenizer(tokenizer);
        }
        evalLength = evalSequenceLength != null ? evalSequenceLength : windowLength;
        if (variants == null) {
            variants = VARIANTS;
        }
        for (String variant : variants) {
            if (!VARIANTS.contains(variant)) {
                throw new InvalidInputException("--variants: unknown row '" + variant + "' (known: "
                        + String.join(", ", VARIANTS) + ")");
            }
        }
        if (variants.contains("qat-equal-bits") && !(variants.contains("qat") && variants.contains("cherryq"))) {
            throw new InvalidInputException("--variants: qat-equal-bits takes its group size from the qat and cherryq "
                    + "rows; add them");
        }
        long untrained = variants.stream().filter(v -> v.equals("rtn") || v.equals("gptq")).count();
        long ablated = ablationBits == 0 ? 0 : ABLATED.stream().filter(c -> c != base.criterion()).count();
        long trained = (widths.size() * (variants.size() - untrained) + ablated) * seeds.size();
        console.printf("report: %s (%,d parameters); %d runs, %d of them trained%n", model, parameters,
                1 + widths.size() * untrained + trained, trained);
        HeldOutCheck.Result heldOut = heldOutCheck(words);
        console.println("evaluation text: " + heldOut.describe());
        table.add(new FidelityTable.Run("fp", 0, 0, evaluate(model).get("mean_nll").asDouble(), storedBits,
                "cherryq eval --model " + model + " --text " + evalText + " --seq-len " + evalLength));
        Path fisher = null;
        for (int bits : widths) {
            QuantizationRecipe atWidth = base.withBits(bits);
            run("rtn", atWidth.withMethod(QuantMethod.RTN), base.seed());
            run("gptq", atWidth.withMethod(QuantMethod.GPTQ), base.seed());
            for (long seed : seeds) {
                run("qat", atWidth.withMethod(QuantMethod.QAT), seed);
                Path folder = run("cherryq", atWidth.withMethod(QuantMethod.CHERRYQ), seed);
                if (fisher == null && folder != null && Files.exists(folder.resolve("fisher.safetensors"))) {
                    fisher = folder.resolve("fisher.safetensors");
                }
                run("gptq+cherryq", atWidth.withMethod(QuantMethod.CHERRYQ).withInit(InitMethod.GPTQ), seed);
                run("cherryq-random", atWidth.withMethod(QuantMethod.CHERRYQ).withCriterion(SelectionCriterion.RANDOM),
                        seed);
                if (variants.contains("qat-equal-bits")) {
                    run("qat-equal-bits", atWidth.withMethod(QuantMethod.QAT).withGroupSize(equalBitsGroupSize(bits)),
                            seed);
                }
            }
        }
        for (SelectionCriterion criterion : ABLATED) {
            if (criterion == base.criterion() || ablationBits == 0) {
                continue;
            }
            for (long seed : seeds) {
                run("cherryq-" + criterion.cliName(), base.withBits(ablationBits).withMethod(QuantMethod.CHERRYQ)
                        .withCriterion(criterion), seed);
            }
        }
        ArrayNode heterogeneity = fisher == null ? Json.MAPPER.createArrayNode() : heterogeneity(fisher);
        ArrayNode overTraining = trainingCheckpoints == null ? Json.MAPPER.createArrayNode() : heterogeneityOverTraining();
        lossCurves();
        String memory = memorySteps > 0 ? memoryRun(parameters) : "";
        writeReport(heldOut, heterogeneity, overTraining, parameters, console);
        if (!memory.isEmpty()) {
            Files.writeString(out.resolve("report.md"), "\n## Memory over a long run\n\n" + memory,
                    java.nio.file.StandardOpenOption.APPEND);
            console.print(memory);
        }
        return 0;
    }

    /**
     * Evaluation windows that share a span with the calibration or training text: the report says so when any do.
     * Keeps the evaluation and calibration ids for the evaluations and the heterogeneity scores.
     */
    private HeldOutCheck.Result heldOutCheck(Tokenizer words) {
        evalIds = EvalCorpus.tokenizeText(evalText, words, EvalCorpus.DocumentJoin.GPTQ);
        calibrationIds = EvalCorpus.tokenizeText(calibText, words, EvalCorpus.DocumentJoin.GPTQ);
        int[] training = calibText.equals(trainText) ? new int[0]
                : EvalCorpus.tokenizeText(trainText, words, EvalCorpus.DocumentJoin.GPTQ);
        return HeldOutCheck.check(evalIds, evalLength, Math.min(HeldOutCheck.DEFAULT_SPAN, evalLength),
                calibrationIds, training);
    }

    /**
     * The group size at which plain QAT spends the bits per weight that CherryQ spends at the recipe's group size:
     * the scale bits per group of qat's run over cherryq's extra bits per weight, from the runs' own measured
     * effective bits.
     */
    private int equalBitsGroupSize(int bits) {
        double qat = table.row("qat", bits).effectiveBits();
        double cherryq = table.row("cherryq", bits).effectiveBits();
        double bitsPerGroup = (qat - bits) * base.groupSize();
        return Math.max(1, (int) Math.round(bitsPerGroup / (cherryq - bits)));
    }

    /**
     * Quantizes with the recipe under {@code seed}, evaluates, adds the run to the table; returns its folder, or null
     * when --variants leaves the row out (ablation rows always run).
     */
    private Path run(String variant, QuantizationRecipe recipe, long seed) throws IOException {
        if (VARIANTS.contains(variant) && !variants.contains(variant)) {
            return null;
        }
        QuantizationRecipe seeded = recipe.withSeed(seed).validate();
        Path folder = out.resolve(variant + "-w" + recipe.bits() + "-s" + seed);
        JsonNode record = finishedRun(seeded, folder);
        if (record == null) {
            record = new LocalJob(seeded, model, tokenizer, calibText, trainText, 0, folder)
                    .run(spec.commandLine().getOut());
        }
        if (record.has("training")) {
            ((ObjectNode) record).put("variant", variant);
            trainedRecords.add(record);
        }
        table.add(new FidelityTable.Run(variant, recipe.bits(), seed, evaluateRun(folder),
                record.path("effective_bits_per_weight").asDouble(), command(seeded, folder)));
        return folder;
    }

    /**
     * With --reuse, the record of a job already finished in {@code folder} with this recipe on the same model,
     * tokenizer and texts; null when there is none (or another job's, which is then run again in its place). Records
     * written before the inputs were recorded (2026-12-01) are matched on recipe and model alone.
     */
    private JsonNode finishedRun(QuantizationRecipe recipe, Path folder) throws IOException {
        Path file = folder.resolve("quantize.json");
        if (!reuse || !Files.isRegularFile(file)) {
            return null;
        }
        JsonNode record = Json.MAPPER.readTree(file.toFile());
        JsonNode fields = Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(recipe.fields())); // numbers as read
        boolean same = record.path("recipe").equals(fields) && record.path("model").asText().equals(model.toString())
                && sameInput(record, "tokenizer", tokenizer) && sameInput(record, "calib_text", calibText)
                && sameInput(record, "train_text", trainText);
        if (!same) {
            spec.commandLine().getOut().printf("report: %s holds another job; running this one in its place%n", folder);
            return null;
        }
        spec.commandLine().getOut().printf("report: reusing %s (%s)%n", folder, recipe.describe());
        return record;
    }

    private static boolean sameInput(JsonNode record, String field, Path path) {
        return !record.has(field) || record.get(field).isNull() && path == null
                || path != null && record.get(field).asText().equals(path.toString());
    }

    /**
     * A run's mean NLL on --eval-text, kept in its folder's report-eval.json; with --reuse, read from there when it
     * was measured on the same text and window.
     */
    private double evaluateRun(Path folder) throws IOException {
        Path file = folder.resolve("report-eval.json");
        if (reuse && Files.isRegularFile(file)) {
            JsonNode kept = Json.MAPPER.readTree(file.toFile());
            if (kept.path("eval_text").asText().equals(evalText.toString()) && kept.path("seq_len").asInt() == evalLength) {
                return kept.get("mean_nll").asDouble();
            }
        }
        ObjectNode result = (ObjectNode) evaluate(folder);
        result.put("eval_text", evalText.toString()).put("seq_len", evalLength);
        Files.writeString(file, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(result) + "\n");
        return result.get("mean_nll").asDouble();
    }

    /** The quantize and eval commands that reproduce a run: every recipe field that is not its default, as a flag. */
    private String command(QuantizationRecipe recipe, Path folder) {
        StringBuilder command = new StringBuilder("cherryq quantize --model " + model
                + (tokenizer != null ? " --tokenizer " + tokenizer : "") + " --calib-text " + calibText
                + " --train-text " + trainText);
        Map<String, Object> defaults = QuantizationRecipe.DEFAULTS.fields();
        recipe.fields().forEach((field, value) -> {
            if (field.equals(QuantizationRecipe.BITS) || !value.equals(defaults.get(field))) {
                command.append(' ').append(RecipeOptions.FLAGS.get(field)).append(' ').append(value);
            }
        });
        return command + " --out " + folder + " && cherryq eval --model " + folder + " --text " + evalText
                + " --seq-len " + evalLength;
    }

    /** One long CherryQ training: RSS every 10 steps and the peak, against 5 x fp32 parameter bytes + 1.5 GiB. */
    private String memoryRun(long parameters) throws IOException {
        QuantizationRecipe recipe = base.withBits(ablationBits).withMethod(QuantMethod.CHERRYQ)
                .withTraining(base.training().withSteps(memorySteps)).validate();
        Path folder = out.resolve("memory-" + memorySteps + "-steps");
        JsonNode record = new LocalJob(recipe, model, tokenizer, calibText, trainText, 0, folder)
                .run(spec.commandLine().getOut());
        JsonNode rss = record.get("training").get("rss_mib_every_10_steps");
        int firstIndex = Math.min(4, rss.size() - 1);
        double first = rss.get(firstIndex).get("rss_mib").asDouble();
        double middle = rss.get(rss.size() / 2).get("rss_mib").asDouble();
        double last = rss.get(rss.size() - 1).get("rss_mib").asDouble();
        double peak = 0;
        for (JsonNode stage : record.get("stages")) {
            if (stage.get("stage").asText().equals("train") && !stage.get("peak_rss_mib").isNull()) {
                peak = stage.get("peak_rss_mib").asDouble();
            }
        }
        double bound = 5.0 * parameters * 4 / (1024 * 1024) + 1536;
        double[] x = new double[rss.size()];
        double[] y = new double[rss.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = rss.get(i).get("step").asDouble();
            y[i] = rss.get(i).get("rss_mib").asDouble();
        }
        tryDraw(() -> new LinePlot("Resident memory during " + memorySteps + " CherryQ steps", "step", "RSS (MiB)")
                .series("RSS", x, y).write(out.resolve("memory.png")));
        return String.format(Locale.ROOT, "CherryQ %d-bit, %d steps: RSS %.0f MiB at step %d, %.0f MiB at step %d, "
                + "%.0f MiB at step %d (change over the run after step %d: %+.1f%%). Peak RSS of the training stage "
                + "%.0f MiB; the bound 5 x fp32 parameter bytes + 1.5 GiB is %.0f MiB: %s.%n%n![memory](memory.png)%n",
                ablationBits, memorySteps, first, rss.get(firstIndex).get("step").asInt(), middle,
                rss.get(rss.size() / 2).get("step").asInt(), last, rss.get(rss.size() - 1).get("step").asInt(),
                rss.get(firstIndex).get("step").asInt(), 100 * (last - first) / first, peak, bound,
                peak <= bound ? "met" : "MISSED");
    }

    /** Mean NLL of a model on --eval-text, in this process. */
    private JsonNode evaluate(Path folder) {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder); LlamaModel llama = LlamaModel.load(checkpoint);
                ProgressBar bar = new ProgressBar("eval " + folder.getFileName())) {
            PerplexityResult result = CherryqPipeline.evaluate(llama, evalIds, evalLength, 0,
                    evalIds.length / evalLength, 8, bar);
            return Json.object().put("model", folder.toString()).put("mean_nll", result.meanNll())
                    .put("perplexity", result.perplexity()).put("windows", result.windows())
                    .put("seconds", result.seconds());
        }
    }

    /**
     * The paper's heterogeneity score per matrix (mean of the top 1% over the max of the bottom 99%) for impact F and
     * for squared magnitude w^2, the same units of "squared size" (|w| would favour impact by construction), and
     * the paper's Figure 1 scatter for the middle layer.
     */
    private ArrayNode heterogeneity(Path fisherFile) throws IOException {
        Map<String, float[]> impacts = FisherPartial.read(fisherFile).impacts();
        ArrayNode scores = Json.MAPPER.createArrayNode();
        List<LinePlot> panels = new ArrayList<>();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            int middle = checkpoint.config().numberOfLayers() / 2;
            List<String> names = LlamaTensorNames.linearWeights(checkpoint.config());
            double[] index = new double[names.size()];
            double[] impactScores = new double[names.size()];
            double[] magnitudeScores = new double[names.size()];
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i);
                float[] impact = impacts.get(name);
                float[] weights = checkpoint.tensors().readFloats(name);
                double impactScore = HeterogeneityScore.of(impact, false);
                double magnitudeScore = HeterogeneityScore.of(squares(weights), false);
                scores.addObject().put("matrix", name).put("impact_score", impactScore)
                        .put("squared_magnitude_score", magnitudeScore);
                index[i] = i;
                impactScores[i] = Math.log10(impactScore);
                magnitudeScores[i] = Math.log10(magnitudeScore);
                if (name.startsWith("model.layers." + middle + ".")) {
                    // the paper's Figure 1: impacts of 4096 randomly sampled parameters of one matrix
                    SplittableRandom random = new SplittableRandom(base.seed() + i);
                    int n = Math.min(4096, impact.length);
                    double[] x = new double[n];
                    double[] y = new double[n];
                    for (int sample = 0; sample < n; sample++) {
                        x[sample] = sample;
                        y[sample] = impact[random.nextInt(impact.length)];
                    }
                    String shortName = name.replace("model.layers.", "layer ").replace(".weight", "");
                    panels.add(new LinePlot(shortName + ": impact of " + n + " sampled parameters", "sampled parameter",
                            "impact (mean squared gradient)").scatter(String.format(Locale.ROOT, "score %.1f",
                            impactScore), x, y));
                }
            }
            tryDraw(() -> new LinePlot("Heterogeneity per matrix: mean of top 1% / max of bottom 99%",
                    "matrix (layer x 7 + q, k, v, o, gate, up, down)", "log10 score")
                    .series("impact F", index, impactScores)
                    .series("squared magnitude w^2", index, magnitudeScores)
                    .write(out.resolve("heterogeneity-scores.png")));
            tryDraw(() -> LinePlot.writeGrid(panels, 2, out.resolve("heterogeneity-scatter.png")));
        }
        return scores;
    }

    /**
     * The median heterogeneity over matrices, for impact and squared magnitude, at every training checkpoint in
     * --training-checkpoints (and the final model): do cherries emerge as a model learns? Impact is scored on the
     * recipe's calibration samples at each checkpoint.
     */
    private ArrayNode heterogeneityOverTraining() throws IOException {
        List<Path> folders;
        try (var listing = Files.list(trainingCheckpoints)) {
            folders = listing.filter(folder -> folder.getFileName().toString().startsWith("step-")).sorted().toList();
        }
        JsonNode training = InputFiles.readJson(model.resolve("training.json"), "the model's training.json");
        long tokensPerStep = training.path("settings").path("batch_size").asLong()
                * (training.path("settings").path("seq_len").asLong() - 1);
        List<Path> all = new ArrayList<>(folders);
        all.add(model);
        ArrayNode points = Json.MAPPER.createArrayNode();
        // the same samples at every checkpoint (they share the model's tokenizer)
        var samples = CherryqPipeline.calibrationSamples(base, calibrationIds, windowLength, false);
        for (Path folder : all) {
            long step = folder.equals(model) ? training.path("settings").path("steps").asLong()
                    : Long.parseLong(folder.getFileName().toString().substring("step-".length()));
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder); LlamaModel llama = LlamaModel.load(checkpoint);
                    ProgressBar bar = new ProgressBar("score " + folder.getFileName())) {
                Map<String, float[]> impacts = CherryqPipeline.score(llama, samples, 0, samples.count(), bar).impacts();
                List<Double> impactScores = new ArrayList<>();
                List<Double> magnitudeScores = new ArrayList<>();
                for (String name : LlamaTensorNames.linearWeights(checkpoint.config())) {
                    impactScores.add(HeterogeneityScore.of(impacts.get(name), false));
                    magnitudeScores.add(HeterogeneityScore.of(squares(checkpoint.tensors().readFloats(name)), false));
                }
                points.addObject().put("step", step).put("tokens", step * tokensPerStep)
                        .put("impact_median", median(impactScores)).put("squared_magnitude_median",
                                median(magnitudeScores));
            }
        }
        double[] tokens = new double[points.size()];
        double[] impact = new double[points.size()];
        double[] magnitude = new double[points.size()];
        for (int i = 0; i < points.size(); i++) {
            tokens[i] = points.get(i).get("tokens").asDouble() / 1e6;
            impact[i] = points.get(i).get("impact_median").asDouble();
            magnitude[i] = points.get(i).get("squared_magnitude_median").asDouble();
        }
        tryDraw(() -> new LinePlot("Median heterogeneity over matrices during pretraining", "training tokens (millions)",
                "median score").series("impact F", tokens, impact).series("squared magnitude w^2", tokens, magnitude)
                .write(out.resolve("heterogeneity-over-training.png")));
        return points;
    }

    private static float[] squares(float[] values) {
        float[] squared = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            squared[i] = values[i] * values[i];
        }
        return squared;
    }

    /** Training loss of the first seed's run of each trained variant, per width. */
    private void lossCurves() {
        for (int width : widths) {
            LinePlot plot = new LinePlot("QAT training loss, " + width + "-bit (moving average over 10 steps)", "step",
                    "training loss (nats)");
            for (JsonNode record : trainedRecords) {
                if (record.path("bits").asInt() == width && record.path("seed").asLong() == seeds.get(0)) {
                    JsonNode losses = record.get("training").get("losses");
                    double[] x = new double[losses.size()];
                    double[] y = new double[losses.size()];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = i + 1;
                        y[i] = losses.get(i).asDouble();
                    }
                    plot.series(record.path("variant").asText(), x, LinePlot.movingAverage(y, 10));
                }
            }
            tryDraw(() -> plot.write(out.resolve("loss-" + width + "bit.png")));
        }
    }

    private interface Drawing {
        void draw() throws IOException;
    }

    private static void tryDraw(Drawing drawing) {
        try {
            drawing.draw();
        } catch (IOException | RuntimeException | Error e) {
            System.err.println("cherryq: warning: a figure could not be drawn (" + e + "); the numbers are in report.json");
        }
    }

    /** NLL against bits per weight for each variant (means over seeds): where each method sits on the trade-off. */
    private void tradeOffPlot() {
        LinePlot plot = new LinePlot("Mean NLL against bits per linear weight", "bits per linear weight",
                "mean NLL (nats)");
        for (String variant : VARIANTS) {
            List<FidelityTable.Row> rows = table.rows().stream().filter(row -> row.variant().equals(variant)).toList();
            if (!rows.isEmpty()) {
                plot.points(variant, rows.stream().mapToDouble(FidelityTable.Row::effectiveBits).toArray(),
                        rows.stream().mapToDouble(FidelityTable.Row::mean).toArray());
            }
        }
        tryDraw(() -> plot.write(out.resolve("nll-vs-bits.png")));
    }

    private void writeReport(HeldOutCheck.Result heldOut, ArrayNode heterogeneity, ArrayNode overTraining,
            long parameters, PrintWriter console) throws IOException {
        tradeOffPlot();
        String fidelity = table.markdown(widths, VARIANTS);
        StringBuilder controls = new StringBuilder();
        for (int bits : widths) {
            controls.append(table.compare("criterion control", "cherryq", "cherryq-random", bits))
                    .append(table.compare("budget control", "cherryq", "qat-equal-bits", bits))
                    .append(table.compare("against plain QAT", "cherryq", "qat", bits))
                    .append(table.compare("GPTQ start", "gptq+cherryq", "cherryq", bits));
        }
        long unhelped = trainedRecords.stream().filter(record -> record.path("training").path("validation")
                .path("best_step").asInt(-1) == 0).count();
        controls.append(String.format(Locale.ROOT, "- validation: in %d of %d trained runs no step improved on the "
                + "start's score on the held-out training windows, so those runs returned their start.%n", unhelped,
                trainedRecords.size()));
        List<String> criteria = new ArrayList<>(List.of("cherryq", "cherryq-random"));
        for (SelectionCriterion criterion : ABLATED) {
            if (criterion != base.criterion()) {
                criteria.add("cherryq-" + criterion.cliName());
            }
        }
        StringBuilder ablation = new StringBuilder("| criterion | mean NLL (nats) | seeds |\n|---|---:|---:|\n");
        for (String variant : criteria) {
            FidelityTable.Row row = table.row(variant, ablationBits);
            if (row != null) {
                String name = variant.equals("cherryq") ? base.criterion().cliName() + " (the default)"
                        : variant.substring("cherryq-".length());
                ablation.append(String.format(Locale.ROOT, "| %s | %s | %d |%n", name, FidelityTable.meanWithSpread(row),
                        row.runs().size()));
            }
        }
        List<Double> impactScores = new ArrayList<>();
        List<Double> magnitudeScores = new ArrayList<>();
        heterogeneity.forEach(entry -> {
            impactScores.add(entry.get("impact_score").asDouble());
            magnitudeScores.add(entry.get("squared_magnitude_score").asDouble());
        });
        String summary = heterogeneity.isEmpty() ? "No Fisher-based run: no heterogeneity scores.\n" : String.format(
                Locale.ROOT, "Over %d matrices (mean of the top 1%% / max of the bottom 99%%): impact F median %.2f "
                + "(min %.2f, max %.2f); squared magnitude w^2 median %.2f (min %.2f, max %.2f).%n", heterogeneity.size(),
                median(impactScores), Collections.min(impactScores), Collections.max(impactScores),
                median(magnitudeScores), Collections.min(magnitudeScores), Collections.max(magnitudeScores));
        StringBuilder training = new StringBuilder();
        if (!overTraining.isEmpty()) {
            training.append("\n### Over pretraining\n\n| step | training tokens | impact F median | w^2 median |\n"
                    + "|---:|---:|---:|---:|\n");
            overTraining.forEach(point -> training.append(String.format(Locale.ROOT, "| %d | %,d | %.2f | %.2f |%n",
                    point.get("step").asLong(), point.get("tokens").asLong(), point.get("impact_median").asDouble(),
                    point.get("squared_magnitude_median").asDouble())));
            training.append("\n![over training](heterogeneity-over-training.png)\n");
        }
        StringBuilder commands = new StringBuilder();
        for (FidelityTable.Row row : table.rows()) {
            for (FidelityTable.Run run : row.runs()) {
                commands.append(String.format(Locale.ROOT, "- %s %s seed %d: `%s`%n", run.variant(),
                        run.bits() == 0 ? "" : run.bits() + "-bit", run.seed(), run.command()));
            }
        }
        String settings = String.format(Locale.ROOT, "Model %s (%,d parameters). Recipe (every row but its own method, "
                + "bits, criterion, start or group size): %s, %d calibration samples of %d tokens from %s, training on "
                + "%s, seeds %s. Evaluation: %s in windows of %d, %s.%n", model, parameters, base.describe(),
                base.calibrationSamples(), windowLength, calibText.getFileName(), trainText.getFileName(), seeds,
                evalText.getFileName(), evalLength, heldOut.describe());
        String report = "# CherryQ report\n\n" + settings
                + "\n## Fidelity\n\nMean NLL on the evaluation text; trained rows are the mean ± sample standard "
                + "deviation over the seeds. cherryq-random keeps the same number of cherries chosen at random; "
                + "qat-equal-bits is plain QAT at the group size that spends cherryq's bits per weight.\n\n" + fidelity
                + "\n![trade-off](nll-vs-bits.png)\n\n### Controls\n\n" + controls
                + (ablationBits == 0 ? "" : "\n## Criterion ablation (" + ablationBits + " bits, equal fraction)\n\n"
                        + ablation)
                + "\n## Heterogeneity\n\n" + summary
                + "\n![scores](heterogeneity-scores.png)\n\n![scatter](heterogeneity-scatter.png)\n" + training
                + "\n## Training loss\n\n" + widths.stream().map(b -> "![loss " + b + "-bit](loss-" + b + "bit.png)")
                        .reduce((a, b) -> a + "\n" + b).orElse("")
                + "\n\n## Commands\n\n" + commands;
        Files.writeString(out.resolve("report.md"), report);
        ObjectNode root = Json.object();
        root.put("settings", settings.strip());
        root.putObject("evaluation_text").put("held_out", heldOut.heldOut()).put("windows", heldOut.windows())
                .put("windows_sharing_text", heldOut.windowsSharingText()).put("span", heldOut.span());
        root.set("results", table.json());
        root.set("heterogeneity", heterogeneity);
        root.set("heterogeneity_over_training", overTraining);
        Files.writeString(out.resolve("report.json"), Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        console.println();
        console.print(fidelity);
        console.println();
        console.print(controls);
        console.println();
        console.print(summary);
        console.printf("%nwrote %s, report.json and figures%n", out.resolve("report.md"));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.isEmpty() ? Double.NaN : sorted.get(sorted.size() / 2);
    }
}
