package dev.cherryq.fleet.job;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/**
 * The results table of a report, in Markdown: one row per variant with its format, bits per linear weight, mean NLL,
 * perplexity and the perplexity change against the fp row (when there is one). A job's report and {@code cherryq
 * run}'s table of several jobs both write it from their {@code results} rows, so the two read alike.
 */
public final class ResultsTable {

    private ResultsTable() {}

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
        return table.toString();
    }
}
