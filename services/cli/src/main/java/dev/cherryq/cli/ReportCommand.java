package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.HeterogeneityScore;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code cherryq report}: the comparison of the paper on one model. FP, RTN, QAT and CherryQ at each bit width, the
 * cherry-criterion ablation (impact vs magnitude vs random at equal cherry count and steps), the heterogeneity of
 * parameter impact, training-loss curves, and time and peak RSS per stage. Every run goes through the same
 * {@code quantize} and {@code eval} code paths a user runs; the report is Markdown, JSON and PNG.
 */
@Command(name = "report", mixinStandardHelpOptions = true, defaultValueProvider = RecipeOptions.StandardDefaults.class,
        description = {"Runs FP, RTN, QAT and CherryQ at each --bits and the criterion ablation,",
                "evaluates all of them on --eval-text, and writes report.md, report.json",
                "and PNG figures to --out."})
final class ReportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "HF model folder or llama2.c .bin checkpoint") Path model;
    @Option(names = "--tokenizer", description = "tokenizer (default: the model folder's)") Path tokenizer;
    @Option(names = "--calib-text", required = true, description = "calibration text for impact scoring") Path calibText;
    @Option(names = "--train-text", required = true, description = "training text for QAT") Path trainText;
    @Option(names = "--eval-text", required = true, description = "held-out text; never used for training or choices") Path evalText;
    @Option(names = "--bits", split = ",", defaultValue = "3,4", description = "bit widths to compare (default: ${DEFAULT-VALUE})") List<Integer> bits;
    @Option(names = "--ablation-bits", defaultValue = "3", description = "bit width of the criterion ablation (default: ${DEFAULT-VALUE})") int ablationBits;
    @Option(names = "--group-size", description = "weights per group; -1 = whole row (default: ${DEFAULT-VALUE})") int groupSize;
    @Option(names = "--scheme", description = "sym-full or asym (default: ${DEFAULT-VALUE})") String scheme;
    @Option(names = "--cherry-fraction", description = "share of each row kept in f16 (default: ${DEFAULT-VALUE})") double cherryFraction;
    @Option(names = "--calib-samples", description = "calibration samples (default: ${DEFAULT-VALUE})") int calibSamples;
    @Option(names = "--steps", description = "QAT steps per run (default: ${DEFAULT-VALUE})") int steps;
    @Option(names = "--seq-len", description = "calibration and training window; 0 = min(512, max positions) (default: ${DEFAULT-VALUE})") int sequenceLength;
    @Option(names = "--eval-seq-len", description = "evaluation window (default: --seq-len)") Integer evalSequenceLength;
    @Option(names = "--batch-size", description = "windows per QAT step (default: ${DEFAULT-VALUE})") int batchSize;
    @Option(names = "--lr", description = "peak QAT learning rate (default: ${DEFAULT-VALUE})") float learningRate;
    @Option(names = "--loss", description = "ce or kd (default: ${DEFAULT-VALUE})") String loss;
    @Option(names = "--seed", description = "seed for samples, batches and random cherries (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--memory-steps", defaultValue = "0", description = "also run one CherryQ training of this many steps and report its RSS over time (0: skip)") int memorySteps;
    @Option(names = "--out", required = true, description = "output folder: report.md, report.json, figures, one folder per run") Path out;

    private record Run(String method, int bits, String criterion, Path folder, JsonNode eval, JsonNode quantize) {}

    /** The held-out text's ids, tokenized by the first evaluation. */
    private int[] evalIds;

    @Override
    public Integer call() throws IOException {
        PrintWriter console = spec.commandLine().getOut();
        Files.createDirectories(out);
        int windowLength;
        long parameters;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            windowLength = QuantizationRecipe.DEFAULTS.withSequenceLength(sequenceLength).sequenceLength(checkpoint.config());
            parameters = checkpoint.config().parameterCount();
        }
        int evalLength = evalSequenceLength != null ? evalSequenceLength : windowLength;
        List<Run> runs = new ArrayList<>();
        console.printf("report: %s (%,d parameters); %d runs to go%n", model, parameters, 1 + 3 * bits.size() + 2);
        runs.add(new Run("fp", 32, "-", model, evaluate(model, evalLength), null));
        for (int width : bits) {
            runs.add(quantizeAndEvaluate("rtn", width, "impact", windowLength, evalLength));
            runs.add(quantizeAndEvaluate("qat", width, "impact", windowLength, evalLength));
            runs.add(quantizeAndEvaluate("cherryq", width, "impact", windowLength, evalLength));
        }
        for (String criterion : List.of("magnitude", "random")) {
            runs.add(quantizeAndEvaluate("cherryq", ablationBits, criterion, windowLength, evalLength));
        }
        ArrayNode heterogeneity = heterogeneity(runs);
        lossCurves(runs);
        String memory = memorySteps > 0 ? memoryRun(windowLength, evalLength, parameters) : "";
        writeReport(runs, heterogeneity, parameters, windowLength, evalLength, console);
        if (!memory.isEmpty()) {
            Files.writeString(out.resolve("report.md"), "\n## Memory over a long run\n\n" + memory,
                    java.nio.file.StandardOpenOption.APPEND);
            console.print(memory);
        }
        return 0;
    }

    /** One long CherryQ training: RSS every 10 steps and the peak, against 5 x fp32 parameter bytes + 1.5 GiB. */
    private String memoryRun(int windowLength, int evalLength, long parameters) throws IOException {
        int saved = steps;
        steps = memorySteps;
        Run run;
        try {
            run = quantizeAndEvaluate("cherryq", ablationBits, "impact", windowLength, evalLength);
        } finally {
            steps = saved;
        }
        Path folder = out.resolve("memory-" + memorySteps + "-steps");
        CherryqCommand.deleteRecursively(folder);
        Files.move(run.folder(), folder);
        JsonNode rss = run.quantize().get("training").get("rss_mib_every_10_steps");
        double first = rss.get(Math.min(4, rss.size() - 1)).get("rss_mib").asDouble();
        double middle = rss.get(rss.size() / 2).get("rss_mib").asDouble();
        double last = rss.get(rss.size() - 1).get("rss_mib").asDouble();
        double peak = 0;
        for (JsonNode stage : run.quantize().get("stages")) {
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
        return String.format("CherryQ %d-bit, %d steps: RSS %.0f MiB at step %d, %.0f MiB at step %d, %.0f MiB at step %d "
                + "(change over the run after step %d: %+.1f%%). Peak RSS of the training stage %.0f MiB; the bound "
                + "5 x fp32 parameter bytes + 1.5 GiB is %.0f MiB: %s.%n%n![memory](memory.png)%n", ablationBits,
                memorySteps, first, rss.get(Math.min(4, rss.size() - 1)).get("step").asInt(), middle,
                rss.get(rss.size() / 2).get("step").asInt(), last, rss.get(rss.size() - 1).get("step").asInt(),
                rss.get(Math.min(4, rss.size() - 1)).get("step").asInt(), 100 * (last - first) / first, peak, bound,
                peak <= bound ? "met" : "MISSED");
    }

    private Run quantizeAndEvaluate(String method, int width, String criterion, int windowLength, int evalLength)
            throws IOException {
        Path folder = out.resolve(method + "-w" + width + (method.equals("cherryq") ? "-" + criterion : ""));
        QuantizationRecipe recipe = QuantizationRecipe.DEFAULTS.withMethod(QuantMethod.parse("--method", method))
                .withBits(width).withGroupSize(groupSize).withScheme(QuantScheme.parse("--scheme", scheme))
                .withCriterion(SelectionCriterion.parse("--criterion", criterion)).withCherryFraction(cherryFraction)
                .withCalibrationSamples(calibSamples).withSequenceLength(windowLength).withSeed(seed)
                .withTraining(QuantizationRecipe.DEFAULTS.training().withSteps(steps).withBatchSize(batchSize)
                        .withLearningRate(learningRate).withLoss(TrainingLoss.parse("--loss", loss))).validate();
        new LocalJob(recipe, model, tokenizer, calibText, trainText, 50, folder).run(spec.commandLine().getOut());
        JsonNode quantizeRecord = InputFiles.readJson(folder.resolve("quantize.json"), "quantize.json");
        return new Run(method, width, method.equals("cherryq") ? criterion : "-", folder, evaluate(folder, evalLength),
                quantizeRecord);
    }

    /** Mean NLL of a model on --eval-text, in this process; the held-out ids are tokenized once per report. */
    private JsonNode evaluate(Path folder, int evalLength) {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder); LlamaModel llama = LlamaModel.load(checkpoint);
                ProgressBar bar = new ProgressBar("eval " + folder.getFileName())) {
            if (evalIds == null) {
                evalIds = EvalCorpus.tokenizeText(evalText, checkpoint.tokenizer(tokenizer),
                        EvalCorpus.DocumentJoin.GPTQ);
            }
            PerplexityResult result = CherryqPipeline.evaluate(llama, evalIds, evalLength, 0,
                    evalIds.length / evalLength, 8, bar);
            return Json.object().put("model", folder.toString()).put("mean_nll", result.meanNll())
                    .put("perplexity", result.perplexity()).put("predicted_tokens", result.predictedTokens())
                    .put("windows", result.windows()).put("seq_len", result.sequenceLength())
                    .put("seconds", result.seconds());
        }
    }

    private ArrayNode heterogeneity(List<Run> runs) throws IOException {
        Path fisherFile = runs.stream().filter(r -> r.method().equals("cherryq") && r.criterion().equals("impact"))
                .map(r -> r.folder().resolve("fisher.safetensors")).filter(Files::exists).findFirst().orElse(null);
        ArrayNode scores = Json.MAPPER.createArrayNode();
        if (fisherFile == null) {
            return scores;
        }
        Map<String, float[]> impacts = FisherPartial.read(fisherFile).impacts();
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
                double magnitudeScore = HeterogeneityScore.of(weights, true);
                scores.addObject().put("matrix", name).put("impact_score", impactScore).put("magnitude_score", magnitudeScore);
                index[i] = i;
                impactScores[i] = Math.log10(impactScore);
                magnitudeScores[i] = Math.log10(magnitudeScore);
                if (name.startsWith("model.layers." + middle + ".")) {
                    // the paper's Figure 1: impacts of 4096 randomly sampled parameters of one matrix
                    SplittableRandom random = new SplittableRandom(seed + i);
                    int n = Math.min(4096, impact.length);
                    double[] x = new double[n];
                    double[] y = new double[n];
                    for (int s = 0; s < n; s++) {
                        x[s] = s;
                        y[s] = impact[random.nextInt(impact.length)];
                    }
                    String shortName = name.replace("model.layers.", "layer ").replace(".weight", "");
                    panels.add(new LinePlot(shortName + ": impact of " + n + " sampled parameters", "sampled parameter",
                            "impact (mean squared gradient)").scatter(String.format("score %.1f", impactScore), x, y));
                }
            }
            tryDraw(() -> new LinePlot("Heterogeneity per matrix: mean of top 1% / max of bottom 99%",
                    "matrix (layer x 7 + q, k, v, o, gate, up, down)", "log10 score")
                    .series("impact", index, impactScores)
                    .series("magnitude |w|", index, magnitudeScores)
                    .write(out.resolve("heterogeneity-scores.png")));
            tryDraw(() -> LinePlot.writeGrid(panels, 2, out.resolve("heterogeneity-scatter.png")));
        }
        return scores;
    }

    private void lossCurves(List<Run> runs) {
        for (int width : bits) {
            LinePlot plot = new LinePlot("QAT training loss, " + width + "-bit (moving average over 10 steps)", "step",
                    "training loss (nats)");
            for (Run run : runs) {
                if (run.bits() == width && run.quantize() != null && run.quantize().has("training")) {
                    JsonNode losses = run.quantize().get("training").get("losses");
                    double[] x = new double[losses.size()];
                    double[] y = new double[losses.size()];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = i + 1;
                        y[i] = losses.get(i).asDouble();
                    }
                    plot.series(label(run), x, LinePlot.movingAverage(y, 10));
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

    private static String label(Run run) {
        return run.method().equals("cherryq") ? "cherryq (" + run.criterion() + ")" : run.method();
    }

    private void writeReport(List<Run> runs, ArrayNode heterogeneity, long parameters, int windowLength, int evalLength,
            PrintWriter console) throws IOException {
        double fpNll = runs.get(0).eval().get("mean_nll").asDouble();
        StringBuilder md = new StringBuilder();
        md.append("| method | bits | cherries | effective bits | mean NLL | perplexity | vs fp | train s |\n");
        md.append("|---|---:|---|---:|---:|---:|---:|---:|\n");
        ArrayNode json = Json.MAPPER.createArrayNode();
        for (Run run : runs) {
            double nll = run.eval().get("mean_nll").asDouble();
            JsonNode record = run.quantize();
            double effective = record == null ? 32 : record.path("effective_bits_per_weight").asDouble();
            String cherries = record == null || record.path("cherries").asLong() == 0 ? "-"
                    : String.format("%,d (%s)", record.get("cherries").asLong(), run.criterion());
            md.append(String.format("| %s | %s | %s | %.3f | %.4f | %.3f | %+.1f%% | %s |%n", label(run),
                    run.bits() == 32 ? "fp32" : run.bits(), cherries, effective, nll, Math.exp(nll),
                    100 * (Math.exp(nll - fpNll) - 1), trainSeconds(record)));
            ObjectNode entry = json.addObject();
            entry.put("method", run.method()).put("bits", run.bits()).put("criterion", run.criterion())
                    .put("mean_nll", nll).put("perplexity", Math.exp(nll)).put("effective_bits", effective);
            entry.set("eval", run.eval());
            if (record != null) {
                entry.set("stages", record.get("stages"));
            }
        }
        StringBuilder stages = new StringBuilder("| run | stage | wall s | peak RSS MiB |\n|---|---|---:|---:|\n");
        for (Run run : runs) {
            if (run.quantize() != null) {
                for (JsonNode stage : run.quantize().get("stages")) {
                    stages.append(String.format("| %s %d-bit | %s | %.1f | %s |%n", label(run), run.bits(),
                            stage.get("stage").asText(), stage.get("seconds").asDouble(),
                            stage.get("peak_rss_mib").isNull() ? "?" : String.format("%.0f", stage.get("peak_rss_mib").asDouble())));
                }
            }
            stages.append(String.format("| %s %s | eval | %.1f | |%n", label(run), run.bits() == 32 ? "" : run.bits() + "-bit",
                    run.eval().get("seconds").asDouble()));
        }
        double[] impactScores = new double[heterogeneity.size()];
        double[] magnitudeScores = new double[heterogeneity.size()];
        for (int i = 0; i < heterogeneity.size(); i++) {
            impactScores[i] = heterogeneity.get(i).get("impact_score").asDouble();
            magnitudeScores[i] = heterogeneity.get(i).get("magnitude_score").asDouble();
        }
        String summary = String.format("Heterogeneity over %d matrices (mean of the top 1%% / max of the bottom 99%%): "
                + "impact median %.2f (min %.2f, max %.2f); magnitude median %.2f (min %.2f, max %.2f).%n",
                heterogeneity.size(), median(impactScores), min(impactScores), max(impactScores), median(magnitudeScores),
                min(magnitudeScores), max(magnitudeScores));
        String settings = String.format("Model %s (%,d parameters). Calibration: %d samples x %d tokens of %s. QAT: %d "
                + "steps x %d windows x %d tokens of %s, lr %s, AdamW (0.9, 0.95), cosine with 5%% warm-up to 0.25x (3-bit) "
                + "or 0.1x (4-bit), seed %d. Group size %d, %s, cherry fraction %s. Evaluation: %s, windows of %d.%n",
                model, parameters, calibSamples, windowLength, calibText.getFileName(), steps, batchSize, windowLength,
                trainText.getFileName(), learningRate, seed, groupSize, scheme, cherryFraction, evalText.getFileName(),
                evalLength);
        String report = "# CherryQ report\n\n" + settings + "\n## Perplexity\n\n" + md + "\n## Heterogeneity\n\n" + summary
                + "\n![scores](heterogeneity-scores.png)\n\n![scatter](heterogeneity-scatter.png)\n\n## Training loss\n\n"
                + bits.stream().map(b -> "![loss " + b + "-bit](loss-" + b + "bit.png)").reduce((a, b) -> a + "\n" + b)
                        .orElse("") + "\n\n## Time and memory per stage\n\n" + stages;
        Files.writeString(out.resolve("report.md"), report);
        ObjectNode root = Json.object();
        root.put("settings", settings.strip());
        root.set("runs", json);
        root.set("heterogeneity", heterogeneity);
        Files.writeString(out.resolve("report.json"), Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        console.println();
        console.print(md);
        console.println();
        console.print(summary);
        console.printf("%nwrote %s, report.json and figures%n", out.resolve("report.md"));
    }

    private static String trainSeconds(JsonNode record) {
        if (record == null) {
            return "-";
        }
        for (JsonNode stage : record.get("stages")) {
            if (stage.get("stage").asText().equals("train")) {
                return String.format("%.0f", stage.get("seconds").asDouble());
            }
        }
        return "-";
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted.length == 0 ? Double.NaN : sorted[sorted.length / 2];
    }

    private static double min(double[] values) {
        return Arrays.stream(values).min().orElse(Double.NaN);
    }

    private static double max(double[] values) {
        return Arrays.stream(values).max().orElse(Double.NaN);
    }
}
