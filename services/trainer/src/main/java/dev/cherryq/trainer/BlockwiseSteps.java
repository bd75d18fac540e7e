package dev.cherryq.trainer;

import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.qat.BlockActivations;
import dev.cherryq.core.qat.BlockwiseTrainer;
import dev.cherryq.core.qat.EndToEndPhase;
import dev.cherryq.core.qat.MemoryEstimate;
import dev.cherryq.core.qat.QatCheckpoint;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.Folders;
import dev.cherryq.fleet.job.JobPlan;
import dev.cherryq.fleet.job.ModelFolders;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.metrics.ProcessMemory;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.storage.TokenTensors;
import dev.cherryq.fleet.task.FatalTaskException;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.fleet.task.TaskTimings;
import dev.cherryq.proto.v1.BlockResult;
import dev.cherryq.proto.v1.BlockwiseStep;
import dev.cherryq.proto.v1.CaptureShard;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.TrainTask;
import dev.cherryq.proto.v1.TrainerTaskRecord;
import dev.cherryq.proto.v1.ValidationScore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Block-wise training's three trainer tasks ({@code training: blockwise}; core's {@link BlockwiseTrainer}):
 * <ol>
 *   <li>capture: the full-precision hidden states at every block boundary for one shard of the run's windows
 *       ({@code capture/train-<shard>-<attempt>/h-<depth>.safetensors}, and the validation windows' with shard 0),
 *       listed in {@code capture/shard-<shard>.pb};</li>
 *   <li>block: one decoder block trained on every shard's inputs and targets for its depth, stored as
 *       {@code blocks/block-<block>.<attempt>.safetensors}, listed in {@code blocks/block-<block>.pb};</li>
 *   <li>assemble: every block written into the model, then the end-to-end phase when the recipe asks for one
 *       (cherries and norms on the whole model's loss, core's {@link EndToEndPhase}; the teacher's last hidden
 *       states from the capture), exported and evaluated as end-to-end training's last segment is.</li>
 * </ol>
 * Listings sit at keys fixed by (job, step, index), so a redelivered task whose listing exists computes nothing; the
 * files they list sit under a key of their attempt ({@link #attempt}). The
 * task that stores the last missing capture shard (or block) emits the block tasks (or the assembly); two finishing
 * at once may both emit them, and the duplicates find their outputs stored. A block or capture lost with its worker
 * is redone by another worker: a capture from its start, a block from the last checkpoint its task stored (every
 * {@code segment_steps} steps); training is deterministic, so the result is the same.
 */
final class BlockwiseSteps {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BlockwiseSteps.class);

    private final FleetContext fleet;
    private final TrainerHandler handler;

    BlockwiseSteps(FleetContext fleet, TrainerHandler handler) {
        this.fleet = fleet;
        this.handler = handler;
    }

    TaskOutcome handle(TrainTask task) throws Exception {
        return switch (task.getBlockwise()) {
            case BLOCKWISE_STEP_CAPTURE -> capture(task);
            case BLOCKWISE_STEP_BLOCK -> block(task);
            case BLOCKWISE_STEP_ASSEMBLE -> assemble(task);
            default -> throw new FatalTaskException(FatalTaskException.INVALID_MESSAGE,
                    "train task of job " + task.getJobId() + " has blockwise step " + task.getBlockwiseValue());
        };
    }

    private static String captureKey(String jobId, int shard) {
        return ObjectKeys.of(jobId, Stage.STAGE_TRAINER, String.format(Locale.ROOT, "capture/shard-%04d.pb", shard));
    }

    private static String blockKey(String jobId, int block, String extension) {
        return ObjectKeys.of(jobId, Stage.STAGE_TRAINER, String.format(Locale.ROOT, "blocks/block-%04d.%s", block,
                extension));
    }

    /** Capture shard {@code block}: the windows of its share of the run, at every depth. */
    private TaskOutcome capture(TrainTask task) throws Exception {
        String jobId = task.getJobId();
        int shard = task.getBlock();
        if (fleet.store().readIfExists(captureKey(jobId, shard)).isPresent()) {
            return TaskOutcome.duplicate(afterCapture(task, ""));
        }
        long started = System.nanoTime();
        QuantizationRecipe recipe = RequestSettings.recipe(task.getRequest());
        int[] tokens = TokenTensors.get(fleet.store(), task.getData().getTrainTokens(), fleet.downloads());
        int length = task.getRequest().getSeqLen();
        int windows = CherryqPipeline.blockwiseWindowStarts(recipe, tokens, length).length;
        int[] range = JobPlan.captureWindows(windows, task.getCaptureShards(), shard);
        Path scratch = fleet.scratch(jobId, "trainer").resolve("capture-" + shard);
        Folders.deleteRecursively(scratch);
        CherryqPipeline.CaptureFolders folders = new CherryqPipeline.CaptureFolders(scratch.resolve("train"),
                scratch.resolve("validation"));
        int layers;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, task.getRequest().getModel()))) {
            CherryqPipeline.captureBlockInputs(checkpoint, recipe, tokens, range[0], range[1], shard == 0, folders,
                    Progress.NONE);
            layers = checkpoint.config().numberOfLayers();
        }
        CaptureShard.Builder stored = CaptureShard.newBuilder().setShard(shard);
        String attempt = attempt(); // this attempt's own keys, as a block's weights
        for (int depth = 0; depth <= layers; depth++) {
            stored.addTrain(upload(BlockActivations.file(folders.train(), depth), String.format(Locale.ROOT,
                    "capture/train-%04d-%s/h-%d.safetensors", shard, attempt, depth), jobId));
            Path validation = BlockActivations.file(folders.validation(), depth);
            if (Files.exists(validation)) {
                stored.addValidation(upload(validation, "capture/validation-" + attempt + "/h-" + depth
                        + ".safetensors", jobId));
            }
        }
        stored.setSeconds((System.nanoTime() - started) / 1e9).setWorker(worker())
                .setPeakRssMib(ProcessMemory.peakMib());
        fleet.store().putBytes(captureKey(jobId, shard), stored.build().toByteArray(), ObjectStore.MEDIA_PROTOBUF);
        Folders.deleteRecursively(scratch);
        return TaskOutcome.of(afterCapture(task, String.format(Locale.ROOT, "captured windows %d-%d", range[0],
                range[1])), (long) (range[1] - range[0]) * length);
    }

    /** The capture's progress event, and the block tasks when every capture shard is stored. */
    private List<Outgoing> afterCapture(TrainTask task, String detail) throws Exception {
        List<Outgoing> out = new ArrayList<>();
        out.add(progress(task, detail));
        for (int shard = 0; shard < task.getCaptureShards(); shard++) {
            if (fleet.store().readIfExists(captureKey(task.getJobId(), shard)).isEmpty()) {
                return out; // a shard still to come emits them
            }
        }
        out.addAll(new JobPlan(task.getRequest(), task.getData()).blockTasks(task));
        return out;
    }

    /** One decoder block trained against the full-precision block's outputs on every shard's windows. */
    private TaskOutcome block(TrainTask task) throws Exception {
        String jobId = task.getJobId();
        int block = task.getBlock();
        if (fleet.store().readIfExists(blockKey(jobId, block, "pb")).isPresent()) {
            return TaskOutcome.duplicate(afterBlock(task, ""));
        }
        QuantizationRecipe recipe = RequestSettings.recipe(task.getRequest());
        long windows = (long) recipe.training().steps() * recipe.training().gradientAccumulation()
                * recipe.training().batchSize();
        BlockwiseTrainer.Result result;
        boolean streamed;
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, task.getRequest().getModel()))) {
            // planned from this worker's budget before any activation is fetched: every window held when it fits
            // (or there is no budget), else streamed a micro-batch at a time; refused when even that does not fit
            streamed = !handler.fitsBudget(MemoryEstimate.blockTask(checkpoint.config(), windows,
                    recipe.training().validationWindows(), task.getRequest().getSeqLen(),
                    recipe.training().batchSize(), false));
            handler.requireBudget(task, "block " + block, MemoryEstimate.blockTask(checkpoint.config(), windows,
                    recipe.training().validationWindows(), task.getRequest().getSeqLen(),
                    recipe.training().batchSize(), true));
            if (streamed) {
                LOG.info("trainer job {}: block {} streams its captured windows (every window held would exceed "
                        + "CHERRYQ_MEMORY_BUDGET)", jobId, block);
            }
            List<Path> inputs = new ArrayList<>();
            List<Path> targets = new ArrayList<>();
            List<Path> validationInputs = new ArrayList<>();
            List<Path> validationTargets = new ArrayList<>();
            for (CaptureShard shard : captureShards(task)) {
                inputs.add(fleet.store().fetch(shard.getTrain(block), fleet.downloads()));
                targets.add(fleet.store().fetch(shard.getTrain(block + 1), fleet.downloads()));
                if (shard.getValidationCount() > block + 1) {
                    validationInputs.add(fleet.store().fetch(shard.getValidation(block), fleet.downloads()));
                    validationTargets.add(fleet.store().fetch(shard.getValidation(block + 1), fleet.downloads()));
                }
            }
            CherrySet cherries = task.hasCherries()
                    ? CherrySet.read(fleet.store().fetch(task.getCherries(), fleet.downloads())) : CherrySet.empty();
            Path checkpoints = lastCheckpoint(jobId, block); // an earlier attempt's progress, when one was stored
            result = CherryqPipeline.trainBlock(checkpoint, recipe, cherries, block,
                    BlockwiseTrainer.Pairs.of(inputs, targets, streamed), validationInputs.isEmpty() ? null
                            : BlockwiseTrainer.Pairs.of(validationInputs, validationTargets, streamed), checkpoints,
                    task.getRequest().getQat().getSegmentSteps(), saved -> storeCheckpoint(jobId, block, saved),
                    Progress.NONE);
            Folders.deleteRecursively(checkpoints);
            LlamaTensorNames.expected(checkpoint.config()).forEach(tensor -> shapes.put(tensor.name(),
                    tensor.shape()));
        }
        Path scratch = Files.createDirectories(fleet.scratch(jobId, "trainer"));
        Path weightsFile = scratch.resolve("block-" + block + ".safetensors");
        List<TensorData> tensors = new ArrayList<>();
        result.weights().forEach((name, values) -> tensors.add(TensorData.ofFloats(name, DType.F32, shapes.get(name),
                values)));
        SafetensorsWriter.write(weightsFile, Map.of("cherryq.kind", "block-weights"), tensors);
        // under this attempt's own key: a second worker on the same block (a rebalance) cannot replace the bytes
        // whose hash this attempt's listing records, whichever listing is stored last
        TensorRef weights = fleet.store().put(blockKey(jobId, block, attempt() + ".safetensors"), weightsFile,
                ObjectStore.MEDIA_SAFETENSORS, "");
        Files.deleteIfExists(weightsFile);
        BlockResult.Builder stored = BlockResult.newBuilder().setBlock(block).setWeights(weights)
                .addAllLosses(result.losses()).setBestStep(result.bestStep()).setSeconds(result.seconds())
                .setWorker(worker()).setPeakRssMib(ProcessMemory.peakMib()).setStreamed(streamed)
                .setResumedFromStep(result.resumedFrom());
        result.validation().forEach(point -> stored.addValidation(ValidationScore.newBuilder().setStep(point.step())
                .setMeanNll(point.meanNll())));
        fleet.store().putBytes(blockKey(jobId, block, "pb"), stored.build().toByteArray(), ObjectStore.MEDIA_PROTOBUF);
        long tokens = windows * task.getRequest().getSeqLen();
        List<Float> losses = result.losses();
        return TaskOutcome.of(afterBlock(task, String.format(Locale.ROOT, "block %d mse %.4g, best step %d", block,
                losses.get(losses.size() - 1), result.bestStep())), tokens);
    }

    /**
     * A local folder for block {@code block}'s checkpoints, holding the last one an earlier attempt stored (its
     * listing at {@code blocks/block-<block>.checkpoint.pb} names it with its hash), or empty.
     */
    private Path lastCheckpoint(String jobId, int block) throws Exception {
        Path folder = fleet.scratch(jobId, "trainer").resolve("block-" + block + "-checkpoint");
        Folders.deleteRecursively(folder);
        Files.createDirectories(folder);
        Optional<byte[]> listing = fleet.store().readIfExists(blockKey(jobId, block, "checkpoint.pb"));
        if (listing.isPresent()) {
            Path file = Files.copy(fleet.store().fetch(TensorRef.parseFrom(listing.get()), fleet.downloads()),
                    folder.resolve(QatCheckpoint.FILE));
            try (SafetensorsFile stored = SafetensorsFile.open(file)) {
                LOG.info("trainer job {}: resuming block {} from step {}, the checkpoint an earlier attempt stored",
                        jobId, block, stored.metadata().get("cherryq.step"));
            }
        }
        return folder;
    }

    /** Stores a block's checkpoint under this attempt's key, then its listing: a lost worker's block resumes from it. */
    private void storeCheckpoint(String jobId, int block, Path folder) {
        try {
            TensorRef stored = fleet.store().put(blockKey(jobId, block, "checkpoint-" + attempt() + ".safetensors"),
                    folder.resolve(QatCheckpoint.FILE), ObjectStore.MEDIA_SAFETENSORS, "");
            fleet.store().putBytes(blockKey(jobId, block, "checkpoint.pb"), stored.toByteArray(),
                    ObjectStore.MEDIA_PROTOBUF);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // retriable: the block is redone from its last stored one
        }
    }

    /** The block's progress event, and the assembly when every block is stored. */
    private List<Outgoing> afterBlock(TrainTask task, String detail) throws Exception {
        List<Outgoing> out = new ArrayList<>();
        out.add(progress(task, detail));
        for (int block = 0; block < task.getData().getLayers(); block++) {
            if (fleet.store().readIfExists(blockKey(task.getJobId(), block, "pb")).isEmpty()) {
                return out; // a block still training emits it
            }
        }
        out.add(new JobPlan(task.getRequest(), task.getData()).assembleTask(task));
        return out;
    }

    /** Every trained block into the source model, exported, and the method's evaluation tasks. */
    private TaskOutcome assemble(TrainTask task) throws Exception {
        String jobId = task.getJobId();
        String summaryKey = ObjectKeys.of(jobId, Stage.STAGE_TRAINER, "model-summary.pb");
        Optional<byte[]> existing = fleet.store().readIfExists(summaryKey);
        if (existing.isPresent()) {
            return TaskOutcome.duplicate(handler.finish(task, QuantizedModelSummary.parseFrom(existing.get()), ""));
        }
        QuantizationRecipe recipe = RequestSettings.recipe(task.getRequest());
        CherrySet cherries = task.hasCherries()
                ? CherrySet.read(fleet.store().fetch(task.getCherries(), fleet.downloads())) : CherrySet.empty();
        List<TrainerTaskRecord> records = new ArrayList<>();
        List<CaptureShard> shards = captureShards(task);
        for (CaptureShard shard : shards) {
            records.add(TrainerTaskRecord.newBuilder().setStep(BlockwiseStep.BLOCKWISE_STEP_CAPTURE)
                    .setIndex(shard.getShard()).setWorker(shard.getWorker()).setSeconds(shard.getSeconds())
                    .setPeakRssMib(shard.getPeakRssMib()).build());
        }
        Path work = fleet.scratch(jobId, "trainer").resolve("assemble");
        Folders.deleteRecursively(work);
        Path folder = work.resolve("model");
        int steps = recipe.training().steps();
        double[] meanLoss = new double[steps];
        int improved = 0;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, task.getRequest().getModel()));
                LlamaModel model = LlamaModel.load(checkpoint)) {
            int layers = checkpoint.config().numberOfLayers();
            for (int block = 0; block < layers; block++) {
                BlockResult result = BlockResult.parseFrom(fleet.store().readIfExists(blockKey(jobId, block, "pb"))
                        .orElseThrow(() -> new IllegalStateException("block results are not all stored yet")));
                Map<String, float[]> weights = new LinkedHashMap<>();
                try (SafetensorsFile file = SafetensorsFile.open(fleet.store().fetch(result.getWeights(),
                        fleet.downloads()))) {
                    for (String name : file.tensorNames()) {
                        weights.put(name, file.readFloats(name));
                    }
                }
                CherryqPipeline.setBlock(model, weights);
                for (int step = 0; step < steps && step < result.getLossesCount(); step++) {
                    meanLoss[step] += result.getLosses(step) / layers;
                }
                improved += result.getValidationCount() == 0 || result.getBestStep() > 0 ? 1 : 0;
                records.add(TrainerTaskRecord.newBuilder().setStep(BlockwiseStep.BLOCKWISE_STEP_BLOCK)
                        .setIndex(block).setWorker(result.getWorker()).setSeconds(result.getSeconds())
                        .setPeakRssMib(result.getPeakRssMib()).build());
            }
            String phaseDetail = "";
            long phaseTokens = 0;
            if (recipe.training().endToEndPhase()) {
                // the end-to-end phase: cherries and norms on the whole model's loss, here where the model is whole
                int[] tokens = TokenTensors.get(fleet.store(), task.getData().getTrainTokens(), fleet.downloads());
                List<Path> lastDepth = new ArrayList<>();
                if (recipe.training().loss() == TrainingLoss.DISTILLATION) { // the teacher's last hidden states
                    for (CaptureShard shard : shards) {
                        lastDepth.add(fleet.store().fetch(shard.getTrain(layers), fleet.downloads()));
                    }
                }
                EndToEndPhase.Result phase = CherryqPipeline.trainEndToEndPhase(model, checkpoint, recipe, cherries,
                        tokens, lastDepth, Progress.NONE);
                phaseTokens = phase.trainedTokens();
                phaseDetail = String.format(Locale.ROOT, "; end-to-end phase %d steps in %.1f s, best step %d",
                        recipe.training().endToEndSteps(), phase.seconds(), phase.bestStep());
            }
            QuantizedModelSummary exported = handler.export(task, recipe, checkpoint, model, cherries, null, folder);
            QuantizedModelSummary.Builder summary = exported.toBuilder().addAllTrainerTasks(records)
                    .setBestStep(steps);
            for (double loss : meanLoss) {
                summary.addLosses((float) loss);
            }
            QuantizedModelSummary built = summary.build();
            fleet.store().putBytes(summaryKey, built.toByteArray(), ObjectStore.MEDIA_PROTOBUF);
            Folders.deleteRecursively(work);
            return TaskOutcome.of(handler.finish(task, built, String.format(Locale.ROOT,
                    "%d blocks assembled, %d beat their start%s", records.size() - task.getCaptureShards(), improved,
                    phaseDetail)), phaseTokens);
        }
    }

    /** Every capture shard's listing, in shard order; all exist once block tasks are sent. */
    private List<CaptureShard> captureShards(TrainTask task) throws Exception {
        List<CaptureShard> shards = new ArrayList<>();
        for (int shard = 0; shard < task.getCaptureShards(); shard++) {
            byte[] listing = fleet.store().readIfExists(captureKey(task.getJobId(), shard))
                    .orElseThrow(() -> new IllegalStateException("capture shards are not all stored yet"));
            shards.add(CaptureShard.parseFrom(listing));
        }
        return shards;
    }

    /**
     * A name for one attempt at a task's outputs, unique across workers and attempts. Outputs go under it and the
     * task's listing ({@code .pb}, at its fixed key) names them with their hashes, so two attempts at once each store
     * a consistent pair, and the listing stored last wins whole.
     */
    private static String attempt() {
        return java.util.UUID.randomUUID().toString().substring(0, 13);
    }

    private TensorRef upload(Path file, String name, String jobId) throws Exception {
        return fleet.store().put(ObjectKeys.of(jobId, Stage.STAGE_TRAINER, name), file, ObjectStore.MEDIA_SAFETENSORS,
                "");
    }

    /** The process that ran a task: its name and pid/host, since every trainer process of a stage has one name. */
    private String worker() {
        return fleet.processName() + " " + TaskTimings.WORKER;
    }

    private Outgoing progress(TrainTask task, String detail) {
        return JobEvents.progress(task.getJobId(), Stage.STAGE_TRAINER, JobState.JOB_STATE_TRAINING,
                task.getSegment(), task.getSegmentCount(), detail);
    }
}
