package dev.cherryq.trainer;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.qat.MemoryEstimate;
import dev.cherryq.core.qat.QatCheckpoint;
import dev.cherryq.core.qat.QatTrainer;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.ExportTarget;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.EvalSharding;
import dev.cherryq.fleet.job.JobPlan;
import dev.cherryq.fleet.job.Folders;
import dev.cherryq.fleet.job.ModelFolders;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.storage.TokenTensors;
import dev.cherryq.fleet.task.FatalTaskException;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.BlockwiseStep;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.TrainTask;
import dev.cherryq.proto.v1.ValidationScore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Trainer stage: CherryQ's unified mixed-precision QAT (paper Sec. 4) in segments, and GPTQ (as the method, or as
 * the start of training: the first segment runs it before its steps). A task runs steps
 * [from_step, to_step) from the previous segment's checkpoint, uploads the checkpoint at to_step, and emits the next
 * segment as a new task, so a segment lost with its worker is redone from the last checkpoint, anywhere. Batches and
 * schedule come from the whole run's settings ({@link QatTrainer}), so segmenting changes nothing. The last segment
 * exports the packed model and emits its evaluation tasks. Block-wise jobs run their own tasks
 * ({@link BlockwiseSteps}).
 */
public final class TrainerHandler implements StageHandler<TrainTask> {

    private final FleetContext fleet;
    private final BlockwiseSteps blockwise;

    public TrainerHandler(FleetContext fleet) {
        this.fleet = fleet;
        this.blockwise = new BlockwiseSteps(fleet, this);
    }

    @Override
    public StageBinding<TrainTask> binding() {
        return new StageBinding<>(Stage.STAGE_TRAINER, Topics.TRAIN_TASKS, TrainTask.parser(),
                TrainTask::getJobId);
    }

    @Override
    public TaskOutcome handle(TrainTask task) throws Exception {
        if (task.getBlockwise() != BlockwiseStep.BLOCKWISE_STEP_UNSPECIFIED) {
            return blockwise.handle(task); // block-wise training's capture, block and assembly tasks
        }
        String jobId = task.getJobId();
        QuantizationRequest request = task.getRequest();
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        int steps = recipe.method().trains() ? recipe.training().steps() : 0; // GPTQ alone trains no steps
        boolean last = JobPlan.lastSegment(task);
        String checkpointKey = ObjectKeys.of(jobId, Stage.STAGE_TRAINER,
                String.format(Locale.ROOT, "checkpoint-step-%06d.safetensors", task.getToStep()));
        String summaryKey = ObjectKeys.of(jobId, Stage.STAGE_TRAINER, "model-summary.pb");
        // a duplicate of a segment whose output exists: re-emit what it emitted, compute nothing
        if (last) {
            Optional<byte[]> summary = fleet.store().readIfExists(summaryKey);
            if (summary.isPresent()) {
                return TaskOutcome.duplicate(finish(task, QuantizedModelSummary.parseFrom(summary.get()), ""));
            }
        } else {
            Optional<TensorRef> checkpoint = fleet.store().stat(checkpointKey, ObjectStore.MEDIA_SAFETENSORS);
            if (checkpoint.isPresent()) {
                return TaskOutcome.duplicate(next(task, checkpoint.get(), ""));
            }
        }
        CherrySet cherries = task.hasCherries()
                ? CherrySet.read(fleet.store().fetch(task.getCherries(), fleet.downloads())) : CherrySet.empty();
        Path segmentDirectory = fleet.scratch(jobId, "trainer").resolve("segment-" + task.getSegment());
        Folders.deleteRecursively(segmentDirectory);
        Files.createDirectories(segmentDirectory);
        if (task.hasPreviousCheckpoint()) {
            Path previous = fleet.store().fetch(task.getPreviousCheckpoint(), fleet.downloads());
            Files.copy(previous, segmentDirectory.resolve(QatCheckpoint.FILE), StandardCopyOption.REPLACE_EXISTING);
        }
        Path modelFolder = ModelFolders.local(fleet, request.getModel());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelFolder);
                LlamaModel model = LlamaModel.load(withinBudget(task, recipe, checkpoint))) {
            // the start: GPTQ runs in the first task (GPTQ alone, or the start of training); later segments resume
            CalibrationSamples samples = recipe.usesGptq() ? CherryqPipeline.calibrationSamples(recipe,
                    TokenTensors.get(fleet.store(), task.getData().getCalibrationTokens(), fleet.downloads()),
                    request.getSeqLen(), RequestSettings.calibratesOnTrainingText(task.getData()))
                    : null;
            CherryqPipeline.Start start = CherryqPipeline.start(model, recipe, samples, cherries,
                    task.hasPreviousCheckpoint(), Progress.NONE);
            String detail = start.gptq() != null ? CherryqPipeline.describe(start.gptq()) : "";
            QatTrainer.Result result = null;
            long trainedTokens = 0;
            if (recipe.method().trains()) {
                int[] tokens = TokenTensors.get(fleet.store(), task.getData().getTrainTokens(), fleet.downloads());
                result = CherryqPipeline.train(model, checkpoint, start, recipe, cherries, tokens,
                        segmentDirectory, 0, task.getToStep(), Progress.NONE);
                List<Float> losses = result.losses();
                trainedTokens = (long) (task.getToStep() - task.getFromStep()) * recipe.training().batchSize()
                        * recipe.training().gradientAccumulation() * request.getSeqLen();
                detail = String.format(Locale.ROOT, "step %d/%d loss %.4f", task.getToStep(), steps,
                        losses.get(losses.size() - 1));
                TensorRef checkpointRef = fleet.store().put(checkpointKey,
                        segmentDirectory.resolve(QatCheckpoint.FILE), ObjectStore.MEDIA_SAFETENSORS, "");
                if (!last) {
                    Folders.deleteRecursively(segmentDirectory);
                    return TaskOutcome.of(next(task, checkpointRef, detail), trainedTokens);
                }
            }
            QuantizedModelSummary summary = export(task, recipe, checkpoint, model, cherries, result,
                    segmentDirectory.resolve("model"));
            fleet.store().putBytes(summaryKey, summary.toByteArray(), ObjectStore.MEDIA_PROTOBUF);
            Folders.deleteRecursively(segmentDirectory);
            return TaskOutcome.of(finish(task, summary, detail), trainedTokens);
        }
    }

    /** The checkpoint, once an end-to-end segment on it is known to fit this worker's budget (before loading it). */
    private LlamaCheckpoint withinBudget(TrainTask task, QuantizationRecipe recipe, LlamaCheckpoint checkpoint) {
        requireBudget(task, "segment " + task.getSegment(), MemoryEstimate.endToEndTask(checkpoint.config(),
                recipe.training().batchSize(), task.getRequest().getSeqLen(),
                recipe.training().loss() == dev.cherryq.core.recipe.TrainingLoss.DISTILLATION));
        return checkpoint;
    }

    /**
     * Refuses a task estimated ({@link MemoryEstimate}) to need more than this worker's budget
     * ({@code CHERRYQ_MEMORY_BUDGET}): the job fails naming the need and the budget, and the worker lives on.
     */
    void requireBudget(TrainTask task, String what, long bytes) {
        int budget = fleet.config().memoryBudgetMib();
        if (!fitsBudget(bytes)) {
            throw new FatalTaskException(FatalTaskException.RESOURCE_EXHAUSTED, String.format(Locale.ROOT,
                    "%s of job %s needs about %,d MiB (estimated), above this worker's CHERRYQ_MEMORY_BUDGET of %,d "
                            + "MiB: give trainer workers more memory%s", what, task.getJobId(),
                    MemoryEstimate.mebibytes(bytes), budget, JobPlan.blockwise(task.getRequest()) ? ""
                            : ", or train block-wise (training: blockwise), which holds one block at a time"));
        }
    }

    /** Whether {@code bytes} (estimated) fit this worker's budget; always, without one. */
    boolean fitsBudget(long bytes) {
        int budget = fleet.config().memoryBudgetMib();
        return budget <= 0 || MemoryEstimate.mebibytes(bytes) <= budget;
    }

    /** Writes the packed + dense model folder and uploads every file. */
    QuantizedModelSummary export(TrainTask task, QuantizationRecipe recipe, LlamaCheckpoint checkpoint,
            LlamaModel model, CherrySet cherries, QatTrainer.Result training, Path folder) throws IOException {
        PackedModel.Summary packed = CherryqPipeline.export(model, checkpoint, recipe, cherries, folder, Progress.NONE);
        ModelRef.Builder modelRef = ModelRef.newBuilder()
                .setUri(fleet.store().uri(ObjectKeys.of(task.getJobId(), Stage.STAGE_TRAINER, "model/")));
        List<Path> files;
        try (Stream<Path> listing = Files.list(folder)) {
            files = listing.filter(Files::isRegularFile).sorted().toList();
        }
        for (Path file : files) {
            String name = file.getFileName().toString();
            String media = name.endsWith(".safetensors") ? ObjectStore.MEDIA_SAFETENSORS
                    : name.endsWith(".json") ? ObjectStore.MEDIA_JSON : ObjectStore.MEDIA_BYTES;
            modelRef.addFiles(fleet.store().put(ObjectKeys.of(task.getJobId(), Stage.STAGE_TRAINER, "model/" + name),
                    file, media, ""));
        }
        QuantizedModelSummary.Builder summary = QuantizedModelSummary.newBuilder().setModel(modelRef)
                .setEffectiveBits(packed.effectiveBits()).setCherries(packed.cherries());
        if (training != null) { // the run's losses, and its validation scores with the step it returned
            summary.addAllLosses(training.losses()).setBestStep(training.bestStep());
            training.validation().forEach(point -> summary.addValidation(ValidationScore.newBuilder()
                    .setStep(point.step()).setMeanNll(point.meanNll())));
        }
        if (task.hasCherries()) {
            summary.setCherrySet(task.getCherries());
        }
        if (task.hasHeterogeneityReport()) {
            summary.setHeterogeneityReport(task.getHeterogeneityReport());
        }
        if (!task.getRequest().getExport().isBlank()) { // for other engines, beside the model (never among its files)
            ExportTarget target = ExportTarget.parse("export", task.getRequest().getExport());
            Path exported = target.write(folder, folder.resolveSibling("export").resolve(target.outputName()),
                    Progress.NONE);
            summary.setExportFormat(target.wireName());
            List<Path> exportFiles;
            try (Stream<Path> walk = Files.walk(exported)) {
                exportFiles = walk.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path file : exportFiles) {
                String name = exported.getParent().relativize(file).toString().replace('\\', '/');
                summary.addExportFiles(fleet.store().put(ObjectKeys.of(task.getJobId(), Stage.STAGE_TRAINER,
                        "export/" + name), file, ObjectStore.MEDIA_BYTES, ""));
            }
        }
        return summary.build();
    }

    private static List<Outgoing> next(TrainTask task, TensorRef checkpoint, String detail) {
        return List.of(Outgoing.byKey(Topics.TRAIN_TASKS, task.getJobId(), JobPlan.nextSegment(task, checkpoint)),
                JobEvents.progress(task.getJobId(), Stage.STAGE_TRAINER, JobState.JOB_STATE_TRAINING,
                        task.getSegment(), task.getSegmentCount(), detail));
    }

    static List<Outgoing> finish(TrainTask task, QuantizedModelSummary summary, String detail) {
        QuantizationRequest request = task.getRequest();
        List<Outgoing> out = new ArrayList<>(new JobPlan(request, task.getData()).methodEvaluation(summary));
        out.add(JobEvents.progress(task.getJobId(), Stage.STAGE_TRAINER, JobState.JOB_STATE_TRAINING,
                task.getSegment(), task.getSegmentCount(), detail));
        out.add(JobEvents.state(task.getJobId(), Stage.STAGE_TRAINER, JobState.JOB_STATE_EVALUATING,
                Stage.STAGE_EVALUATOR, EvalSharding.expectedResults(task.getData(), request),
                String.format(Locale.ROOT, "%.3f effective bits", summary.getEffectiveBits())));
        return out;
    }
}
