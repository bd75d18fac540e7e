package dev.cherryq.selector;

import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.HeterogeneityScore;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.ModelFolders;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.job.SelectionGroups;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.fleet.task.TaskTimings;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.SelectResult;
import dev.cherryq.proto.v1.SelectTask;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Selector stage, per layer group (paper Sec. 3-4): one task per decoder layer. It reads that layer's Fisher partial
 * of every scoring shard (sha256-checked) and merges them in shard order, which adds each weight's sums in the same
 * order as the whole-model merge did, so the impacts are the same floats; then it ranks the layer's weights by the
 * recipe's criterion (impact, saliency or group-aware, which all look at one weight matrix at a time) and selects
 * each row's cherries ({@code CherrySelector}). Its cherries go to {@code jobs/<job>/selector/cherries-group-<g>},
 * its result to {@code select-group-<g>.pb}; a task whose result is stored re-emits it without computing. No task
 * reads more than its layer's share of the partials, and any selector worker may run any layer.
 */
public final class LayerSelectHandler implements StageHandler<SelectTask> {

    private final FleetContext fleet;

    public LayerSelectHandler(FleetContext fleet) {
        this.fleet = fleet;
    }

    @Override
    public StageBinding<SelectTask> binding() {
        return new StageBinding<>(Stage.STAGE_SELECTOR, Topics.SELECT_TASKS, SelectTask.parser(),
                SelectTask::getJobId);
    }

    @Override
    public TaskOutcome handle(SelectTask task) throws Exception {
        TaskTimings timings = TaskTimings.start();
        String jobId = task.getJobId();
        int group = task.getGroup();
        if (group < 0 || group >= task.getGroupCount() || task.getPartialsCount() == 0) {
            throw new IntegrityException("select task group " + group + " of " + task.getGroupCount() + " with "
                    + task.getPartialsCount() + " partials");
        }
        String resultKey = ObjectKeys.of(jobId, Stage.STAGE_SELECTOR,
                String.format(Locale.ROOT, "select-group-%05d.pb", group));
        Optional<byte[]> stored = fleet.store().readIfExists(resultKey);
        if (stored.isPresent()) {
            return TaskOutcome.duplicate(outputs(SelectResult.parseFrom(stored.get())));
        }
        QuantizationRecipe recipe = RequestSettings.recipe(task.getRequest());
        FisherPartial merged = null;
        for (TensorRef ref : task.getPartialsList()) { // shard order: the whole-model merge's order of addition
            FisherPartial partial = FisherPartial.read(fleet.store().fetch(ref, fleet.downloads()));
            timings.read(ref.getByteLength());
            merged = merged == null ? partial : merged.merge(partial);
        }
        if (merged.sampleCount() != task.getRequest().getCalibrationSamples()) {
            throw new IntegrityException("layer group " + group + ": the merged Fisher partials cover "
                    + merged.sampleCount() + " samples, not the request's " + task.getRequest().getCalibrationSamples());
        }
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, float[]> weights = new LinkedHashMap<>();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, task.getRequest().getModel()))) {
            Map<String, long[]> all = LlamaTensorNames.linearWeightShapes(checkpoint.config());
            List<List<String>> groups = SelectionGroups.of(all.keySet());
            List<String> names = new ArrayList<>(merged.sums().keySet());
            if (groups.size() != task.getGroupCount() || !groups.get(group).equals(names)) {
                throw new IntegrityException("layer group " + group + " of " + task.getGroupCount() + ": the partials "
                        + "hold " + names + ", the model's group is " + (group < groups.size() ? groups.get(group)
                        : "missing"));
            }
            boolean readsWeights = recipe.criterion() != SelectionCriterion.IMPACT;
            for (String name : names) {
                shapes.put(name, all.get(name));
                if (readsWeights) { // saliency and group-aware weigh the impacts by each weight's rounding error
                    weights.put(name, checkpoint.tensors().readFloats(name));
                }
            }
        }
        timings.computeStarts();
        Map<String, float[]> scores = CherryqPipeline.layerSelectionScores(recipe, merged, weights, shapes);
        CherrySet cherries = CherryqPipeline.selectLayers(recipe, shapes, scores);
        Path scratch = Files.createDirectories(fleet.scratch(jobId, "selector"));
        Path file = scratch.resolve("cherries-group-" + group + ".safetensors");
        TensorRef cherriesRef;
        try {
            cherries.write(file);
            cherriesRef = fleet.store().put(ObjectKeys.of(jobId, Stage.STAGE_SELECTOR,
                    "cherries-group-" + group + ".safetensors"), file, ObjectStore.MEDIA_SAFETENSORS, "");
        } finally {
            Files.deleteIfExists(file);
        }
        SelectResult.Builder result = SelectResult.newBuilder().setJobId(jobId).setRequest(task.getRequest())
                .setData(task.getData()).setGroup(group).setGroupCount(task.getGroupCount()).setCherries(cherriesRef);
        scores.forEach((name, score) -> result.putHeterogeneity(name, HeterogeneityScore.of(score, false)));
        SelectResult done = result.setTiming(timings.finish()).build();
        fleet.store().putBytes(resultKey, done.toByteArray(), ObjectStore.MEDIA_PROTOBUF);
        return TaskOutcome.of(outputs(done), 0);
    }

    private static List<Outgoing> outputs(SelectResult result) {
        return List.of(Outgoing.byKey(Topics.SELECT_RESULTS, result.getJobId(), result),
                JobEvents.progress(result.getJobId(), Stage.STAGE_SELECTOR, JobState.JOB_STATE_SELECTING,
                        result.getGroup(), result.getGroupCount(), String.format(Locale.ROOT,
                                "layer group %d: %.1f MiB of partials", result.getGroup(),
                                result.getTiming().getBytesRead() / 1048576.0), result.getTiming()));
    }
}
