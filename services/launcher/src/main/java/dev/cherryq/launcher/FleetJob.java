package dev.cherryq.launcher;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.gateway.JobRequestJson;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One job for a fleet: its recipe, its inputs, and the fleet's own settings (scoring tasks, QAT steps per trainer
 * task, windows per evaluator task, the baseline rows it adds), as the gateway's JSON request. {@code cherryq run}
 * and the benchmarks submit these.
 *
 * @param baselines extra rows ("fp", "rtn"); "none" is none
 */
public record FleetJob(QuantizationRecipe recipe, Path model, Path calibration, Path training, Path heldOut,
        int calibrationShards, int segmentSteps, int evalWindowsPerShard, List<String> baselines) {

    public FleetJob {
        baselines = List.copyOf(baselines);
    }

    /** The texts the job reads: held-out, training and calibration. */
    public List<Path> texts() {
        return List.of(heldOut, training, calibration);
    }

    /** The request: every recipe field, the inputs and the fleet's settings. */
    public String requestJson() {
        ObjectNode request = JobRequestJson.recipeFields(recipe);
        request.put("model", model.toString()).put("eval_data", heldOut.toString())
                .put("calibration_data", calibration.toString()).put("calibration_shards", calibrationShards)
                .put("train_data", training.toString()).put("segment_steps", segmentSteps)
                .put("eval_windows_per_shard", evalWindowsPerShard);
        ArrayNode rows = request.putArray("baselines");
        baselines.stream().filter(row -> !row.equals("none")).forEach(rows::add);
        return Json.line(request);
    }

    /**
     * A comparison as {@code cherryq run} submits it: this job, then the same recipe with each other method (each
     * once) as a job of its own without baseline rows.
     */
    public List<FleetJob> withComparisons(List<QuantMethod> others) {
        List<FleetJob> jobs = new ArrayList<>(List.of(this));
        List<QuantMethod> methods = new ArrayList<>(List.of(recipe.method()));
        for (QuantMethod method : others) {
            if (!methods.contains(method)) {
                methods.add(method);
                jobs.add(new FleetJob(recipe.withMethod(method), model, calibration, training, heldOut,
                        calibrationShards, segmentSteps, evalWindowsPerShard, List.of()));
            }
        }
        return jobs;
    }
}
