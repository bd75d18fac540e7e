package dev.cherryq.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.HeldOutCheck;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.local.LocalJob;
import dev.cherryq.launcher.output.LinePlot;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fidelity table of the paper's comparison on one model (Cui and Wang, 2024, Sec. 5); {@code cherryq report} is
 * its front end. At each bit width: fp, rtn, gptq, qat, cherryq, and gptq+cherryq, at equal training tokens, the
 * trained rows over several seeds; two controls at equal bits (cherryq with random cherries at the same fraction:
 * does the choice of cherries matter? and qat with a group size that spends the bits the cherries spend: does the
 * budget matter more?); the criterion ablation; the heterogeneity of impact against magnitude in comparable units
 * (F against w squared, {@link HeterogeneityReport}), also over training checkpoints when given; and a check that the
 * evaluation text is held out. Every run is a {@link LocalJob}, the code path of {@code cherryq quantize}, and the
 * report prints the command that reproduces it. Writes report.md, report.json and PNG figures.
 */
public final class FidelityReport {

    /**
     * One report's settings, as {@code cherryq report} reads them (its problems name the flags).
     *
     * @param base the recipe of every row but its own method, bits, criterion, start or group size
     * @param tokenizer the tokenizer, or null for the model folder's
     * @param widths bit widths to compare
     * @param seeds seeds of the trained rows
     * @param variants rows to run, a subset of {@link #VARIANTS}; null = all
     * @param ablationBits bit width of the criterion ablation, 0 = none
     * @param evalSequenceLength evaluation window; null = the recipe's
     * @param trainingCheckpoints a folder of step-N model folders for heterogeneity over training, or null
     * @param memorySteps steps of one more CherryQ training whose RSS over time is reported, 0 = none
     * @param reuse keep runs already finished under {@code out} with the same recipe and inputs
     * @param flags recipe field -> command-line flag, for the commands that reproduce each run
     */
    public record Settings(QuantizationRecipe base, Path model, Path tokenizer, Path calibText, Path trainText,
            Path evalText, List<Integer> widths, List<Long> seeds, List<String> variants, int ablationBits,
            Integer evalSequenceLength, Path trainingCheckpoints, int memorySteps, boolean reuse, Path out,
            Map<String, String> flags) {}

    /** Variants in table order. */
    public static final List<String> VARIANTS = List.of("rtn", "gptq", "qat", "cherryq", "gptq+cherryq",
            "cherryq-random", "qat-equal-bits");

    /** Criteria of the ablation beside the recipe's own and random (which the table's rows already have). */
    private static final List<SelectionCriterion> ABLATED = List.of(SelectionCriterion.IMPACT,
            SelectionCriterion.SALIENCY, SelectionCriterion.MAGNITUDE, SelectionCriterion.GROUP_AWARE);

    /** The rows to run; all of them when the settings name none. */
    private List<String> variants;
    private final Path model;
    private final Path tokenizer;
    private final Path calibText;
    private final Path trainText;
    private final Path evalText;
    private final List<Integer> widths;
    private final List<Long> seeds;
    private final int ablationBits;
    private final Integer evalSequenceLength;
    private final Path trainingCheckpoints;
    private final int memorySteps;
    private final boolean reuse;
    private final Map<String, String> flags;
    private final Path out;
    private final PrintWriter console;
    private final FidelityTable table = new FidelityTable();
    private final List<JsonNode> trainedRecords = new ArrayList<>();
    private QuantizationRecipe base;
    private int windowLength;
    private int evalLength;
    /** The held-out and calibration texts' ids, tokenized once by the held-out check. */
    private int[] evalIds;
    private int[] calibrationIds;

    public FidelityReport(Settings settings, PrintWriter console) {
        this.base = settings.base();
        this.model = settings.model();
        this.tokenizer = settings.tokenizer();
        this.calibText = settings.calibText();
        this.trainText = settings.trainText();
        this.evalText = settings.evalText();
        this.widths = settings.widths();
        this.seeds = settings.seeds();
        this.ablationBits = settings.ablationBits();
        this.evalSequenceLength = settings.evalSequenceLength();
        this.trainingCheckpoints = settings.trainingCheckpoints();
        this.memorySteps = settings.memorySteps();
        this.reuse = settings.reuse();
        this.out = settings.out();
        this.flags = settings.flags();
        this.variants = settings.variants();
        this.console = console;
    }

    /** Runs every row (or reuses it), evaluates it, and writes the report and its figures. */
    public void run() throws IOException {
        Files.createDirectories(out);
        long parameters;
        double storedBits;
        Tokenizer words;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
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
        HeterogeneityReport heterogeneityReport = new HeterogeneityReport(model, out);
        ArrayNode heterogeneity = fisher == null ? Json.MAPPER.createArrayNode()
                : heterogeneityReport.scores(fisher, base.seed());
        ArrayNode overTraining = trainingCheckpoints == null ? Json.MAPPER.createArrayNode()
                : heterogeneityReport.overTraining(trainingCheckpoints, CherryqPipeline.calibrationSamples(base,
                        calibrationIds, windowLength, false));
        lossCurves();
        String memory = memorySteps > 0 ? memoryRun(parameters) : "";
        writeReport(heldOut, heterogeneity, overTraining, parameters, console);
        if (!memory.isEmpty()) {
            Files.writeString(out.resolve("report.md"), "\n## Memory over a long run\n\n" + memory,
                    java.nio.file.StandardOpenOption.APPEND);
            console.print(memory);
        }
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
                    .run(console);
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
            console.printf("report: %s holds another job; running this one in its place%n", folder);
            return null;
        }
        console.printf("report: reusing %s (%s)%n", folder, recipe.describe());
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
                command.append(' ').append(flags.get(field)).append(' ').append(value);
            }
        });
        return command + " --out " + folder + " && cherryq eval --model " + folder + " --text " + evalText
                + " --seq-len " + evalLength;
    }

    /** One long CherryQ training ({@link MemoryRun}) at the ablation's width. */
    private String memoryRun(long parameters) throws IOException {
        QuantizationRecipe recipe = base.withBits(ablationBits).withMethod(QuantMethod.CHERRYQ)
                .withTraining(base.training().withSteps(memorySteps)).validate();
        Path folder = out.resolve("memory-" + memorySteps + "-steps");
        return MemoryRun.report(new LocalJob(recipe, model, tokenizer, calibText, trainText, 0, folder), parameters,
                out, console);
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
            Figures.tryDraw(() -> plot.write(out.resolve("loss-" + width + "bit.png")));
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
        Figures.tryDraw(() -> plot.write(out.resolve("nll-vs-bits.png")));
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
        String summary = HeterogeneityReport.summary(heterogeneity);
        String training = HeterogeneityReport.overTrainingTable(overTraining);
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
}
