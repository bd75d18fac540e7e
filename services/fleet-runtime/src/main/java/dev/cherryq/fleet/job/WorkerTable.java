package dev.cherryq.fleet.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.proto.v1.WorkerTasks;
import java.util.Locale;

/**
 * A report's {@code workers}: per stage, per worker process, the tasks it finished for the job, their seconds and the
 * process's peak resident memory, folded from the job's task events ({@code JobStatus.workers}). {@code cherryq run}
 * sums several jobs' and prints them as a Markdown table. Peaks are the whole process's: stages hosted in one JVM
 * (the embedded host of {@code cherryq run}) report the same peak.
 */
public final class WorkerTable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private WorkerTable() {}

    /**
     * {@code {stage: {worker: {tasks, seconds, cpu_seconds, peak_rss_mib}}}}, stages in the order the job's status
     * met them; CPU seconds over seconds is the share of a core the worker's tasks got.
     */
    public static ObjectNode json(Iterable<WorkerTasks> workers) {
        ObjectNode stages = JSON.createObjectNode();
        for (WorkerTasks worker : workers) {
            String stage = ObjectKeys.stageName(worker.getStage());
            ObjectNode byWorker = stages.has(stage) ? (ObjectNode) stages.get(stage) : stages.putObject(stage);
            add(byWorker, worker.getWorker(), worker.getTasksCount(), worker.getSeconds(), worker.getCpuMs() / 1000.0,
                    worker.getPeakRssMib());
        }
        return stages;
    }

    /** Several jobs' {@code workers} as one: tasks, seconds and CPU seconds summed, the largest peak. */
    public static ObjectNode combine(Iterable<JsonNode> jobsWorkers) {
        ObjectNode stages = JSON.createObjectNode();
        for (JsonNode job : jobsWorkers) {
            job.fields().forEachRemaining(stage -> {
                ObjectNode byWorker = stages.has(stage.getKey()) ? (ObjectNode) stages.get(stage.getKey())
                        : stages.putObject(stage.getKey());
                stage.getValue().fields().forEachRemaining(worker -> add(byWorker, worker.getKey(),
                        worker.getValue().path("tasks").asInt(), worker.getValue().path("seconds").asDouble(),
                        worker.getValue().path("cpu_seconds").asDouble(), peak(worker.getValue())));
            });
        }
        return stages;
    }

    /** One row per stage and worker; empty when there are none (a report from before task events). */
    public static String markdown(JsonNode workers) {
        if (workers == null || workers.size() == 0) {
            return "";
        }
        StringBuilder table = new StringBuilder("| stage | worker | tasks | task seconds | CPU seconds | peak RSS MiB |\n"
                + "|---|---|---:|---:|---:|---:|\n");
        workers.fields().forEachRemaining(stage -> stage.getValue().fields().forEachRemaining(worker -> {
            double peak = peak(worker.getValue());
            table.append(String.format(Locale.ROOT, "| %s | %s | %d | %.1f | %.1f | %s |%n", stage.getKey(),
                    worker.getKey(), worker.getValue().path("tasks").asInt(), worker.getValue().path("seconds").asDouble(),
                    worker.getValue().path("cpu_seconds").asDouble(),
                    Double.isNaN(peak) ? "-" : String.format(Locale.ROOT, "%.0f", peak)));
        }));
        return table.toString();
    }

    /** A row's peak, NaN when unknown (JSON has no NaN: it is written as null). */
    private static double peak(JsonNode worker) {
        JsonNode peak = worker.path("peak_rss_mib");
        return peak.isNumber() ? peak.asDouble() : Double.NaN;
    }

    private static void add(ObjectNode byWorker, String name, int tasks, double seconds, double cpuSeconds,
            double peakMib) {
        ObjectNode row = byWorker.has(name) ? (ObjectNode) byWorker.get(name)
                : byWorker.putObject(name).put("tasks", 0).put("seconds", 0.0).put("cpu_seconds", 0.0)
                        .putNull("peak_rss_mib");
        row.put("tasks", row.get("tasks").asInt() + tasks).put("seconds", row.get("seconds").asDouble() + seconds)
                .put("cpu_seconds", row.get("cpu_seconds").asDouble() + cpuSeconds);
        if (!Double.isNaN(peakMib) && (Double.isNaN(peak(row)) || peakMib > peak(row))) { // the largest known
            row.put("peak_rss_mib", peakMib);
        }
    }
}
