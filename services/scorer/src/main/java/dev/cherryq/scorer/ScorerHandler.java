package dev.cherryq.scorer;

import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.Progress;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.ModelFolders;
import dev.cherryq.fleet.job.SelectionGroups;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.storage.TokenTensors;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.fleet.task.TaskTimings;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.LayerPartial;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TaskTiming;
import dev.cherryq.proto.v1.TensorRef;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Scorer stage (paper Sec. 3): the partial empirical Fisher (sum of squared gradients) of one shard of calibration
 * samples, written per layer group ({@link SelectionGroups}: one decoder layer each) to
 * {@code jobs/<job>/scorer/fisher-<shard>-group-<g>.safetensors}, so each of the selector's per-layer tasks reads
 * only its layer's share. The samples are drawn from the job's calibration tokens with the request's seed exactly as
 * {@code cherryq quantize} draws them, so the selector's merge of all shards equals the one-process score. A shard
 * whose group partials and their count object ({@code fisher-<shard>-groups}, written last) exist is not recomputed.
 * The result and its progress event carry the task's {@link TaskTiming}.
 */
public final class ScorerHandler implements StageHandler<ScoreTask> {

    private final FleetContext fleet;

    public ScorerHandler(FleetContext fleet) {
        this.fleet = fleet;
    }

    @Override
    public StageBinding<ScoreTask> binding() {
        return new StageBinding<>(Stage.STAGE_SCORER, Topics.SCORE_TASKS, ScoreTask.parser(),
                ScoreTask::getJobId);
    }

    /** The engine and the scoring path, once, before the worker takes its first task. */
    @Override
    public void warmUp() {
        CherryqPipeline.warmUpScoring();
    }

    @Override
    public TaskOutcome handle(ScoreTask task) throws Exception {
        TaskTimings timings = TaskTimings.start();
        Optional<List<LayerPartial>> existing = storedGroups(task);
        if (existing.isPresent()) {
            return TaskOutcome.duplicate(outputs(task, existing.get(), 0, 0, timings.computeStarts().finish()));
        }
        var request = task.getRequest();
        int[] tokens = TokenTensors.get(fleet.store(), task.getData().getCalibrationTokens(), fleet.downloads());
        CalibrationSamples samples = CherryqPipeline.calibrationSamples(RequestSettings.recipe(request), tokens,
                request.getSeqLen(), RequestSettings.calibratesOnTrainingText(task.getData()));
        long started = System.nanoTime();
        FisherPartial partial;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, request.getModel()))) {
            if (fleet.config().depthStreaming()) { // one decoder block in memory at a time
                timings.computeStarts();
                partial = CherryqPipeline.scoreDepthStreamed(checkpoint, samples, task.getSampleFrom(),
                        task.getSampleTo(), Progress.NONE);
            } else {
                try (LlamaModel model = LlamaModel.load(checkpoint)) {
                    timings.computeStarts();
                    partial = CherryqPipeline.score(model, samples, task.getSampleFrom(), task.getSampleTo(),
                            Progress.NONE);
                }
            }
        }
        Path scratch = Files.createDirectories(fleet.scratch(task.getJobId(), "scorer"));
        List<List<String>> groups = SelectionGroups.of(partial.sums().keySet());
        List<LayerPartial> stored = new ArrayList<>();
        for (int group = 0; group < groups.size(); group++) { // one object per layer group: selection reads its own
            Path file = scratch.resolve("fisher-" + task.getShard() + "-group-" + group + ".safetensors");
            try {
                partial.restrictTo(groups.get(group)).write(file);
                TensorRef ref = fleet.store().put(groupKey(task, group), file, ObjectStore.MEDIA_SAFETENSORS, "");
                stored.add(LayerPartial.newBuilder().setGroup(group).setPartial(ref).build());
            } finally {
                Files.deleteIfExists(file);
            }
        }
        // the group count last: a partial whose count object exists is complete, so a duplicate re-emits it
        fleet.store().putBytes(countKey(task), Integer.toString(groups.size()).getBytes(StandardCharsets.UTF_8),
                ObjectStore.MEDIA_BYTES);
        long scoredTokens = (long) (task.getSampleTo() - task.getSampleFrom()) * request.getSeqLen();
        return TaskOutcome.of(outputs(task, stored, scoredTokens, (System.nanoTime() - started) / 1e9,
                timings.finish()), scoredTokens);
    }

    /** {@code jobs/<job>/scorer/fisher-<shard>-group-<group>.safetensors}: one layer group's share of a shard. */
    private static String groupKey(ScoreTask task, int group) {
        return ObjectKeys.shard(task.getJobId(), Stage.STAGE_SCORER, "fisher", task.getShard()) + "-group-" + group
                + ".safetensors";
    }

    /** {@code jobs/<job>/scorer/fisher-<shard>-groups}: how many groups the shard's partial has, written last. */
    private static String countKey(ScoreTask task) {
        return ObjectKeys.shard(task.getJobId(), Stage.STAGE_SCORER, "fisher", task.getShard()) + "-groups";
    }

    /** The shard's stored group partials when all of them are stored (the count object is written last). */
    private Optional<List<LayerPartial>> storedGroups(ScoreTask task) throws Exception {
        Optional<byte[]> count = fleet.store().readIfExists(countKey(task));
        if (count.isEmpty()) {
            return Optional.empty();
        }
        int groups = Integer.parseInt(new String(count.get(), StandardCharsets.UTF_8).trim());
        List<LayerPartial> stored = new ArrayList<>();
        for (int group = 0; group < groups; group++) {
            Optional<TensorRef> ref = fleet.store().stat(groupKey(task, group), ObjectStore.MEDIA_SAFETENSORS);
            if (ref.isEmpty()) {
                return Optional.empty();
            }
            stored.add(LayerPartial.newBuilder().setGroup(group).setPartial(ref.get()).build());
        }
        return Optional.of(stored);
    }

    private static List<Outgoing> outputs(ScoreTask task, List<LayerPartial> partials, long tokens, double seconds,
            TaskTiming timing) {
        ScoreResult result = ScoreResult.newBuilder().setJobId(task.getJobId()).setRequest(task.getRequest())
                .setData(task.getData()).setShard(task.getShard()).setShardCount(task.getShardCount())
                .addAllLayerPartials(partials).setTokens(tokens).setSeconds(seconds).setTiming(timing).build();
        return List.of(Outgoing.byKey(Topics.SCORE_RESULTS, task.getJobId(), result),
                JobEvents.progress(task.getJobId(), Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, task.getShard(),
                        task.getShardCount(), "samples " + task.getSampleFrom() + ".." + task.getSampleTo(), timing));
    }
}
