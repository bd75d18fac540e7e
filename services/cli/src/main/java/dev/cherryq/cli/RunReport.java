package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The results of several jobs on the same recipe (one per method, as {@code cherryq run} submits them) as one
 * table: one row per variant, in the order fp, rtn, gptq, qat, cherryq, each with its mean NLL, perplexity and
 * effective bits per linear weight, and the change against fp.
 */
final class RunReport {

    /** Table order of the variants; others follow in the order the jobs reported them. */
    private static final List<String> ORDER = List.of("fp", "rtn", "gptq", "qat", "cherryq");

    private RunReport() {}

    /** {@code results}, {@code table_markdown} and each job's own report under {@code jobs}. */
    static ObjectNode combine(List<JsonNode> reports) {
        Map<String, JsonNode> rows = new LinkedHashMap<>();
        for (JsonNode report : reports) {
            for (JsonNode row : report.path("results")) {
                rows.putIfAbsent(row.path("variant").asText(), row); // a variant measured twice keeps its first row
            }
        }
        List<JsonNode> ordered = new ArrayList<>(rows.values());
        ordered.sort(Comparator.comparingInt(row -> {
            int index = ORDER.indexOf(row.path("variant").asText());
            return index < 0 ? ORDER.size() : index;
        }));
        double baseline = rows.containsKey("fp") ? rows.get("fp").path("mean_nll").asDouble() : Double.NaN;
        ObjectNode combined = Json.object();
        ArrayNode results = combined.putArray("results");
        StringBuilder table = new StringBuilder("| variant | format | bits per linear weight | mean NLL (nats) "
                + "| perplexity | vs fp |\n|---|---|---:|---:|---:|---:|\n");
        for (JsonNode row : ordered) {
            results.add(row);
            double meanNll = row.path("mean_nll").asDouble();
            table.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %.4f | %.3f | %s |%n",
                    row.path("variant").asText(), row.path("format").asText(), row.path("effective_bits").asDouble(),
                    meanNll, row.path("perplexity").asDouble(), Double.isNaN(baseline) ? "-"
                            : String.format(Locale.ROOT, "%+.2f%%", 100 * (Math.exp(meanNll - baseline) - 1))));
        }
        combined.put("table_markdown", table.toString());
        ArrayNode jobs = combined.putArray("jobs");
        reports.forEach(jobs::add);
        return combined;
    }
}
