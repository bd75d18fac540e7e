package dev.cherryq.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.fleet.job.ResultsTable;
import dev.cherryq.fleet.job.WorkerTable;
import dev.cherryq.launcher.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The results of several jobs on the same recipe (one per method, as {@code cherryq run} submits them) as one
 * table: one row per variant, in the order fp, rtn, gptq, qat, cherryq, each with its mean NLL, perplexity and
 * effective bits per linear weight, and the change against fp; and the workers that ran them.
 */
public final class RunReport {

    /** Table order of the variants; others follow in the order the jobs reported them. */
    private static final List<String> ORDER = List.of("fp", "rtn", "gptq", "qat", "cherryq");

    private RunReport() {}

    /**
     * {@code results}, {@code table_markdown}, {@code workers} (every job's tasks per stage and worker, summed, with
     * the largest peak resident memory) and each job's own report under {@code jobs}.
     */
    public static ObjectNode combine(List<JsonNode> reports) {
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
        ObjectNode combined = Json.object();
        combined.putArray("results").addAll(ordered);
        combined.put("table_markdown", ResultsTable.markdown(ordered));
        List<JsonNode> workers = new ArrayList<>();
        reports.forEach(report -> workers.add(report.path("workers")));
        combined.set("workers", WorkerTable.combine(workers));
        ArrayNode jobs = combined.putArray("jobs");
        reports.forEach(jobs::add);
        return combined;
    }
}
