package dev.cherryq.selector;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.JobPlan;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The end of a job's selection, wherever the cherry set came from (the whole-model route of magnitude and random
 * selection, or the per-layer fan-in): {@code jobs/<job>/selector/cherries.safetensors}, {@code heterogeneity.json},
 * the first training task and the TRAINING event; the selector's completion marker is written after they are
 * published, so a late result changes nothing.
 */
final class SelectionOutputs {

    private static final ObjectMapper JSON = new ObjectMapper();

    private SelectionOutputs() {}

    /**
     * @param heterogeneity per linear weight, the heterogeneity score of its selection scores (none for random)
     */
    static TaskOutcome finish(FleetContext fleet, CompletionMarkers markers, QuantizationRequest request,
            PreparedData data, CherrySet cherries, Map<String, Double> heterogeneity) throws Exception {
        String jobId = request.getJobId();
        Path scratch = Files.createDirectories(fleet.scratch(jobId, "selector"));
        Path file = scratch.resolve("cherries.safetensors");
        TensorRef cherriesRef;
        try {
            cherries.write(file);
            cherriesRef = fleet.store().put(ObjectKeys.of(jobId, Stage.STAGE_SELECTOR, "cherries.safetensors"), file,
                    ObjectStore.MEDIA_SAFETENSORS, "");
        } finally {
            Files.deleteIfExists(file);
        }
        TensorRef reportRef = fleet.store().putBytes(ObjectKeys.of(jobId, Stage.STAGE_SELECTOR, "heterogeneity.json"),
                report(cherries, heterogeneity), ObjectStore.MEDIA_JSON);
        JobPlan plan = new JobPlan(request, data);
        // end-to-end training's first segment, or block-wise training's capture tasks
        List<Outgoing> out = new ArrayList<>(plan.trainingStart(cherriesRef, reportRef));
        out.add(JobEvents.state(jobId, Stage.STAGE_SELECTOR, JobState.JOB_STATE_TRAINING, Stage.STAGE_TRAINER,
                plan.trainerTasks(), String.format(Locale.ROOT, "%,d cherries (%s)", cherries.totalCherries(),
                        cherries.criterion().cliName())));
        return TaskOutcome.of(out, 0)
                .thenAfterPublish(() -> markers.mark(jobId, Stage.STAGE_SELECTOR, "training task emitted"));
    }

    /** Per layer: the heterogeneity score of its selection scores and its cherries per row. */
    static byte[] report(CherrySet cherries, Map<String, Double> heterogeneity) throws Exception {
        ObjectNode root = JSON.createObjectNode();
        root.put("criterion", cherries.criterion().cliName()).put("cherries", cherries.totalCherries());
        ArrayNode layers = root.putArray("layers");
        cherries.layers().forEach((name, layer) -> {
            ObjectNode entry = layers.addObject().put("name", name).put("rows", layer.rows())
                    .put("columns", layer.columnsInMatrix()).put("cherries_per_row", layer.perRow());
            Double score = heterogeneity.get(name);
            if (score != null) {
                entry.put("heterogeneity", Double.isFinite(score) ? score : -1);
            }
        });
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
    }
}
