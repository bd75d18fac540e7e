package dev.cherryq.scorer;

import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.Progress;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.ModelFolders;
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
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Scorer stage (paper Sec. 3): the partial empirical Fisher (sum of squared gradients) of one shard of calibration
 * samples, written to {@code jobs/<job>/scorer/fisher-<shard>}. The samples are drawn from the job's calibration
 * tokens with the request's seed exactly as {@code cherryq quantize} draws them, so the selector's merge of all
 * shards equals the one-process score. A shard whose partial already exists is not recomputed.
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

    @Override
    public TaskOutcome handle(ScoreTask task) throws Exception {
        String key = ObjectKeys.shard(task.getJobId(), Stage.STAGE_SCORER, "fisher", task.getShard()) + ".safetensors";
        Optional<TensorRef> existing = fleet.store().stat(key, ObjectStore.MEDIA_SAFETENSORS);
        if (existing.isPresent()) {
            return TaskOutcome.duplicate(outputs(task, existing.get(), 0, 0));
        }
        var request = task.getRequest();
        int[] tokens = TokenTensors.get(fleet.store(), task.getData().getCalibrationTokens(), fleet.downloads());
        CalibrationSamples samples = CherryqPipeline.calibrationSamples(RequestSettings.recipe(request), tokens,
                request.getSeqLen(), RequestSettings.calibratesOnTrainingText(task.getData()));
        long started = System.nanoTime();
        FisherPartial partial;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, request.getModel()))) {
            if (fleet.config().depthStreaming()) { // one decoder block in memory at a time
                partial = CherryqPipeline.scoreDepthStreamed(checkpoint, samples, task.getSampleFrom(),
                        task.getSampleTo(), Progress.NONE);
            } else {
                try (LlamaModel model = LlamaModel.load(checkpoint)) {
                    partial = CherryqPipeline.score(model, samples, task.getSampleFrom(), task.getSampleTo(),
                            Progress.NONE);
                }
            }
        }
        Path scratch = Files.createDirectories(fleet.scratch(task.getJobId(), "scorer"));
        Path file = scratch.resolve("fisher-" + task.getShard() + ".safetensors");
        try {
            partial.write(file);
            TensorRef ref = fleet.store().put(key, file, ObjectStore.MEDIA_SAFETENSORS, "");
            long scoredTokens = (long) (task.getSampleTo() - task.getSampleFrom()) * request.getSeqLen();
            return TaskOutcome.of(outputs(task, ref, scoredTokens, (System.nanoTime() - started) / 1e9), scoredTokens);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static List<Outgoing> outputs(ScoreTask task, TensorRef partial, long tokens, double seconds) {
        ScoreResult result = ScoreResult.newBuilder().setJobId(task.getJobId()).setRequest(task.getRequest())
                .setData(task.getData()).setShard(task.getShard()).setShardCount(task.getShardCount())
                .setPartialFisher(partial).setTokens(tokens).setSeconds(seconds).build();
        return List.of(Outgoing.byKey(Topics.SCORE_RESULTS, task.getJobId(), result),
                JobEvents.progress(task.getJobId(), Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, task.getShard(),
                        task.getShardCount(), "samples " + task.getSampleFrom() + ".." + task.getSampleTo()));
    }
}
