package dev.cherryq.fleet.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.proto.v1.JobResult;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.VariantResult;
import java.util.Locale;

/**
 * The results table of a report, in Markdown: one row per variant with its format, bits per linear weight, mean NLL,
 * perplexity and the perplexity change against the fp row (when there is one). A job's report and {@code cherryq
 * run}'s table of several jobs both write it from their {@code results} rows, so the two read alike.
 */
public final class ResultsTable {

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();

    private ResultsTable() {}

    /**
     * A completed job's report rows from its result: variant, format, mean NLL, perplexity, predicted tokens,
     * effective bits, and for the trained row its validation scores. The report and {@code cherryq publish --follow}
     * (which reads the result from the job's COMPLETED event) both build their rows here.
     */
    public static com.fasterxml.jackson.databind.node.ArrayNode rows(QuantizationRequest request, JobResult result) {
        com.fasterxml.jackson.databind.node.ArrayNode rows = JSON.createArrayNode();
        String method = RequestSettings.recipe(request).method().wireName();
        for (VariantResult row : result.getVariantsList()) {
            ObjectNode line = rows.addObject().put("variant", row.getVariant()).put("format", row.getFormat())
                    .put("mean_nll", row.getMeanNll()).put("perplexity", row.getPerplexity())
                    .put("predicted_tokens", row.getPredictedTokens()).put("effective_bits", row.getEffectiveBits());
            if (row.getVariant().equals(method) && result.getQuantized().getValidationCount() > 0) {
                QuantizedModelSummary trained = result.getQuantized();
                ObjectNode validation = line.putObject("validation");
                validation.put("best_step", trained.getBestStep()).put("steps", request.getQat().getSteps());
                com.fasterxml.jackson.databind.node.ArrayNode points = validation.putArray("scores");
                trained.getValidationList().forEach(point -> points.addObject().put("step", point.getStep())
                        .put("mean_nll", point.getMeanNll()));
            }
            if (row.getVariant().equals(method) && !result.getQuantized().getExportFormat().isEmpty()) {
                ObjectNode export = line.putObject("export").put("format", result.getQuantized().getExportFormat());
                com.fasterxml.jackson.databind.node.ArrayNode files = export.putArray("files");
                result.getQuantized().getExportFilesList().forEach(file -> files.addObject().put("uri", file.getUri())
                        .put("bytes", file.getByteLength()).put("sha256", file.getSha256()));
            }
            if (row.getVariant().equals(method) && result.getQuantized().getTrainerTasksCount() > 0) {
                line.set("trainer_workers", trainerWorkers(result.getQuantized()));
            }
        }
        return rows;
    }

    /**
     * Block-wise training's trainer tasks by worker: tasks done (captures and blocks), their seconds, and the
     * worker's largest peak resident set reported at the end of a task.
     */
    static ObjectNode trainerWorkers(QuantizedModelSummary trained) {
        ObjectNode workers = JSON.createObjectNode();
        for (dev.cherryq.proto.v1.TrainerTaskRecord task : trained.getTrainerTasksList()) {
            ObjectNode worker = workers.has(task.getWorker()) ? (ObjectNode) workers.get(task.getWorker())
                    : workers.putObject(task.getWorker()).put("captures", 0).put("blocks", 0).put("seconds", 0.0)
                            .put("peak_rss_mib", 0.0);
            String kind = task.getStep() == dev.cherryq.proto.v1.BlockwiseStep.BLOCKWISE_STEP_CAPTURE ? "captures"
                    : "blocks";
            worker.put(kind, worker.get(kind).asInt() + 1)
                    .put("seconds", worker.get("seconds").asDouble() + task.getSeconds())
                    .put("peak_rss_mib", Math.max(worker.get("peak_rss_mib").asDouble(), task.getPeakRssMib()));
        }
        return workers;
    }

    /**
     * @param rows report rows, each with {@code variant}, {@code format}, {@code effective_bits}, {@code mean_nll} and
     *     {@code perplexity}, in table order
     */
    public static String markdown(Iterable<JsonNode> rows) {
        double baseline = Double.NaN;
        for (JsonNode row : rows) {
            if (row.path("variant").asText().equals("fp")) {
                baseline = row.path("mean_nll").asDouble();
            }
        }
        StringBuilder table = new StringBuilder("| variant | format | bits per linear weight | mean NLL (nats) "
                + "| perplexity | vs fp |\n|---|---|---:|---:|---:|---:|\n");
        for (JsonNode row : rows) {
            double meanNll = row.path("mean_nll").asDouble();
            table.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %.4f | %.3f | %s |%n",
                    row.path("variant").asText(), row.path("format").asText(), row.path("effective_bits").asDouble(),
                    meanNll, row.path("perplexity").asDouble(), Double.isNaN(baseline) ? "-"
                            : String.format(Locale.ROOT, "%+.2f%%", 100 * (Math.exp(meanNll - baseline) - 1))));
        }
        for (JsonNode row : rows) {
            JsonNode validation = row.path("validation");
            if (!validation.isMissingNode()) {
                table.append(validationNote(row.path("variant").asText(), validation)).append('\n');
            }
            JsonNode workers = row.path("trainer_workers");
            if (workers.size() > 0) {
                StringBuilder line = new StringBuilder("\n" + row.path("variant").asText() + " trained block-wise by "
                        + workers.size() + (workers.size() == 1 ? " worker" : " workers") + ":");
                workers.fields().forEachRemaining(worker -> line.append(String.format(Locale.ROOT,
                        " %s %d captures and %d blocks in %.1f s (peak RSS %.0f MiB);", worker.getKey(),
                        worker.getValue().path("captures").asInt(), worker.getValue().path("blocks").asInt(),
                        worker.getValue().path("seconds").asDouble(), worker.getValue().path("peak_rss_mib")
                                .asDouble())));
                table.append(line.substring(0, line.length() - 1)).append('\n');
            }
        }
        return table.toString();
    }

    /**
     * One line on a trained row's validation: where its best score was, against its start; said plainly when
     * training did not beat its start, whose weights the job then returned.
     *
     * @param validation {@code best_step}, {@code steps} and {@code scores} (each {@code step}, {@code mean_nll}),
     *     the start (step 0) first
     */
    public static String validationNote(String variant, JsonNode validation) {
        int best = validation.path("best_step").asInt();
        double start = Double.NaN;
        double bestNll = Double.NaN;
        for (JsonNode score : validation.path("scores")) {
            if (score.path("step").asInt() == 0) {
                start = score.path("mean_nll").asDouble();
            }
            if (score.path("step").asInt() == best) {
                bestNll = score.path("mean_nll").asDouble();
            }
        }
        if (best == 0) {
            return String.format(Locale.ROOT, "%n%s: training did not improve on its start on the validation windows "
                    + "(start %.4f nats; no later score was lower), so the job returned its start.", variant, start);
        }
        return String.format(Locale.ROOT, "%n%s: validation mean NLL %.4f at the start, %.4f at step %d of %d "
                + "(the weights returned).", variant, start, bestNll, best, validation.path("steps").asInt());
    }
}
