package dev.cherryq.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.HeterogeneityScore;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.output.LinePlot;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The heterogeneity part of the fidelity report: the paper's score per matrix (mean of the top 1% over the max of the
 * bottom 99%, {@link HeterogeneityScore}) for impact against squared magnitude, its Figure 1 scatter, and the same
 * over pretraining checkpoints, with their figures in the report's folder and their Markdown.
 */
final class HeterogeneityReport {

    private final Path model;
    private final Path out;

    /** Scores the matrices of {@code model}; figures go to {@code out}. */
    HeterogeneityReport(Path model, Path out) {
        this.model = model;
        this.out = out;
    }

    /**
     * The paper's heterogeneity score per matrix (mean of the top 1% over the max of the bottom 99%) for impact F and
     * for squared magnitude w^2, the same units of "squared size" (|w| would favour impact by construction), and
     * the paper's Figure 1 scatter for the middle layer.
     */
    ArrayNode scores(Path fisherFile, long seed) throws IOException {
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
                    SplittableRandom random = new SplittableRandom(seed + i);
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
            Figures.tryDraw(() -> new LinePlot("Heterogeneity per matrix: mean of top 1% / max of bottom 99%",
                    "matrix (layer x 7 + q, k, v, o, gate, up, down)", "log10 score")
                    .series("impact F", index, impactScores)
                    .series("squared magnitude w^2", index, magnitudeScores)
                    .write(out.resolve("heterogeneity-scores.png")));
            Figures.tryDraw(() -> LinePlot.writeGrid(panels, 2, out.resolve("heterogeneity-scatter.png")));
        }
        return scores;
    }

    /**
     * The median heterogeneity over matrices, for impact and squared magnitude, at every training checkpoint in
     * {@code checkpoints} (and the final model): do cherries emerge as a model learns? Impact is scored on the
     * same calibration {@code samples} at each checkpoint (they share the model's tokenizer).
     */
    ArrayNode overTraining(Path checkpoints, CalibrationSamples samples) throws IOException {
        List<Path> folders;
        try (var listing = Files.list(checkpoints)) {
            folders = listing.filter(folder -> folder.getFileName().toString().startsWith("step-")).sorted().toList();
        }
        JsonNode training = InputFiles.readJson(model.resolve("training.json"), "the model's training.json");
        long tokensPerStep = training.path("settings").path("batch_size").asLong()
                * (training.path("settings").path("seq_len").asLong() - 1);
        List<Path> all = new ArrayList<>(folders);
        all.add(model);
        ArrayNode points = Json.MAPPER.createArrayNode();
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
        Figures.tryDraw(() -> new LinePlot("Median heterogeneity over matrices during pretraining",
                "training tokens (millions)", "median score").series("impact F", tokens, impact)
                .series("squared magnitude w^2", tokens, magnitude)
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

    /** One paragraph: the scores' median, min and max over matrices, for impact and squared magnitude. */
    static String summary(ArrayNode heterogeneity) {
        List<Double> impactScores = new ArrayList<>();
        List<Double> magnitudeScores = new ArrayList<>();
        heterogeneity.forEach(entry -> {
            impactScores.add(entry.get("impact_score").asDouble());
            magnitudeScores.add(entry.get("squared_magnitude_score").asDouble());
        });
        return heterogeneity.isEmpty() ? "No Fisher-based run: no heterogeneity scores.\n" : String.format(
                Locale.ROOT, "Over %d matrices (mean of the top 1%% / max of the bottom 99%%): impact F median %.2f "
                + "(min %.2f, max %.2f); squared magnitude w^2 median %.2f (min %.2f, max %.2f).%n", heterogeneity.size(),
                median(impactScores), Collections.min(impactScores), Collections.max(impactScores),
                median(magnitudeScores), Collections.min(magnitudeScores), Collections.max(magnitudeScores));
    }

    /** The table and figure of heterogeneity over pretraining, or nothing when there are no checkpoints. */
    static String overTrainingTable(ArrayNode overTraining) {
        StringBuilder training = new StringBuilder();
        if (!overTraining.isEmpty()) {
            training.append("\n### Over pretraining\n\n| step | training tokens | impact F median | w^2 median |\n"
                    + "|---:|---:|---:|---:|\n");
            overTraining.forEach(point -> training.append(String.format(Locale.ROOT, "| %d | %,d | %.2f | %.2f |%n",
                    point.get("step").asLong(), point.get("tokens").asLong(), point.get("impact_median").asDouble(),
                    point.get("squared_magnitude_median").asDouble())));
            training.append("\n![over training](heterogeneity-over-training.png)\n");
        }
        return training.toString();
    }

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.isEmpty() ? Double.NaN : sorted.get(sorted.size() / 2);
    }
}
