package dev.cherryq.evaluator;

import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.recipe.CherryqPipeline;
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
import dev.cherryq.proto.v1.EvalResult;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * Evaluator stage, first half: the next-token NLL of one model variant over windows [window_from, window_to) of the
 * job's eval tokens, with the window protocol of {@code cherryq eval}. The variant "rtn" quantizes the input model
 * here (round to nearest, deterministic, cached per job). The result is stored under a key fixed by (job, variant,
 * shard) and published to the fan-in; a duplicate task re-publishes the stored result.
 */
public final class EvaluatorHandler implements StageHandler<EvalTask> {

    private final FleetContext fleet;

    public EvaluatorHandler(FleetContext fleet) {
        this.fleet = fleet;
    }

    @Override
    public StageBinding<EvalTask> binding() {
        return new StageBinding<>(Stage.STAGE_EVALUATOR, Topics.EVAL_TASKS, EvalTask.parser(),
                EvalTask::getJobId);
    }

    @Override
    public TaskOutcome handle(EvalTask task) throws Exception {
        if (!task.getVariant().matches("[a-z]{2,16}")) {
            throw new dev.cherryq.fleet.task.FatalTaskException(dev.cherryq.fleet.task.FatalTaskException.INVALID_MESSAGE,
                    "eval task variant '" + task.getVariant() + "' is not a variant name");
        }
        String key = ObjectKeys.shard(task.getJobId(), Stage.STAGE_EVALUATOR, "nll-" + task.getVariant(),
                task.getShard()) + ".pb";
        Optional<byte[]> existing = fleet.store().readIfExists(key);
        if (existing.isPresent()) {
            return TaskOutcome.duplicate(outputs(task, EvalResult.parseFrom(existing.get())));
        }
        var request = task.getRequest();
        int length = request.getSeqLen();
        int[] tokens = TokenTensors.get(fleet.store(), task.getData().getEvalTokens(), fleet.downloads());
        if ((long) task.getWindowTo() * length > tokens.length || task.getWindowFrom() >= task.getWindowTo()) {
            throw new dev.cherryq.fleet.task.FatalTaskException(dev.cherryq.fleet.task.FatalTaskException.INVALID_MESSAGE,
                    "windows " + task.getWindowFrom() + ".." + task.getWindowTo() + " do not fit " + tokens.length
                            + " eval tokens");
        }
        PerplexityResult result;
        QuantizedModelSummary quantized = task.getQuantized();
        Path folder = modelFolder(task);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder)) {
            if (fleet.config().depthStreaming()) { // one decoder block in memory at a time
                result = CherryqPipeline.evaluateDepthStreamed(checkpoint, tokens, length, task.getWindowFrom(),
                        task.getWindowTo(), request.getEval().getBatchSize(), Progress.NONE);
            } else {
                try (LlamaModel model = LlamaModel.load(checkpoint)) {
                    result = CherryqPipeline.evaluate(model, tokens, length, task.getWindowFrom(), task.getWindowTo(),
                            request.getEval().getBatchSize(), Progress.NONE);
                }
            }
            if (task.getVariant().equals("fp")) { // the baselines' storage cost, for the results table
                quantized = quantized.toBuilder()
                        .setEffectiveBits(CherryqPipeline.storedBitsPerLinearWeight(checkpoint)).build();
            } else if (task.getVariant().equals("rtn")) {
                quantized = quantized.toBuilder().setEffectiveBits(PackedModel.effectiveBitsOf(folder)).build();
            }
        }
        EvalResult evalResult = EvalResult.newBuilder().setJobId(task.getJobId()).setRequest(request)
                .setVariant(task.getVariant()).setShard(task.getShard()).setShardCount(task.getShardCount())
                .setNllSum(result.meanNll() * result.predictedTokens()).setPredictedTokens(result.predictedTokens())
                .setWindows(result.windows()).setSeconds(result.seconds()).setExpectedResults(task.getExpectedResults())
                .setQuantized(quantized).build();
        fleet.store().putBytes(key, evalResult.toByteArray(), ObjectStore.MEDIA_PROTOBUF);
        return TaskOutcome.of(outputs(task, evalResult), (long) result.windows() * length);
    }

    private Path modelFolder(EvalTask task) throws IOException {
        Path input = ModelFolders.local(fleet, task.getModel());
        if (!task.getVariant().equals("rtn") || task.getModel().getFilesCount() > 0) {
            return input;
        }
        // the RTN baseline: quantized once per job on this worker; the folder appears atomically when complete
        Path folder = fleet.scratch(task.getJobId(), "evaluator").resolve("rtn-model");
        if (Files.isDirectory(folder)) {
            return folder;
        }
        Path building = Files.createDirectories(folder.getParent()).resolve("rtn-model.building");
        dev.cherryq.fleet.job.Folders.deleteRecursively(building);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(input)) {
            CherryqPipeline.exportRoundToNearest(checkpoint, RequestSettings.recipe(task.getRequest()), building,
                    Progress.NONE);
        }
        Files.move(building, folder, StandardCopyOption.ATOMIC_MOVE);
        return folder;
    }

    private static List<Outgoing> outputs(EvalTask task, EvalResult result) {
        int variantIndex = dev.cherryq.fleet.job.EvalSharding.variants(task.getRequest()).indexOf(task.getVariant());
        return List.of(Outgoing.byKey(Topics.EVAL_RESULTS, task.getJobId(), result),
                JobEvents.progress(task.getJobId(), Stage.STAGE_EVALUATOR, JobState.JOB_STATE_UNSPECIFIED,
                        variantIndex * task.getShardCount() + task.getShard(), task.getExpectedResults(),
                        task.getVariant() + " shard " + task.getShard()));
    }
}
