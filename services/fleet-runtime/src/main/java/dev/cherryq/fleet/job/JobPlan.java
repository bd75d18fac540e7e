package dev.cherryq.fleet.job;

import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.proto.v1.BlockwiseStep;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.TrainTask;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a job sends out, decided from messages alone: no Kafka, no object store, no model (the model half of
 * Strimzi's model and reconciler split; the handlers are the reconcilers that read, write and publish). From a
 * validated request whose {@code seq_len} is resolved and the data the planner prepared, {@link #messages} is the
 * planner's whole fan-out; {@link #firstSegment} is the first trainer task (the planner's or the selector's),
 * {@link #nextSegment} the trainer's next one and {@link #methodEvaluation} the evaluation tasks its last one sends.
 *
 * @param request a request that passed {@link RequestSettings#validate}, with {@code seq_len} set
 * @param data the stored token ids and the model's sizes
 */
public record JobPlan(QuantizationRequest request, PreparedData data) {

    /** Where a planned job goes first. */
    public enum Route {
        /** impact, saliency or group-aware selection: scoring shards fan out, the selector fans them in */
        SCORING,
        /** magnitude or random selection: no scores, the selector is triggered with an empty fan-in */
        SELECTION,
        /** plain QAT or GPTQ: straight to the first trainer task */
        TRAINING,
        /** round to nearest: nothing to compute before evaluation */
        EVALUATION
    }

    public String jobId() {
        return request.getJobId();
    }

    public Route route() {
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        if (recipe.scores()) {
            return Route.SCORING;
        }
        if (recipe.selects()) {
            return Route.SELECTION;
        }
        return RequestSettings.trains(request) ? Route.TRAINING : Route.EVALUATION;
    }

    /**
     * The planner's messages in publish order: its PLANNING progress event, the evaluation tasks of the fp and rtn
     * rows (the baselines asked for, and the method's own row when the method is rtn), then the route's first
     * messages and the job's next state.
     */
    public List<Outgoing> messages() {
        List<Outgoing> out = new ArrayList<>();
        out.add(JobEvents.progress(jobId(), Stage.STAGE_PLANNER, JobState.JOB_STATE_PLANNING, 0, 1,
                String.format(Locale.ROOT, "%,d eval tokens, %d eval windows", data.getEvalTokens().getShape(0),
                        EvalSharding.windows(data, request))));
        out.addAll(baselineEvaluation());
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        switch (route()) {
            case SCORING -> {
                List<ScoreTask> shards = scoreShards();
                for (ScoreTask task : shards) {
                    out.add(Outgoing.spread(Topics.SCORE_TASKS, jobId() + "/" + task.getShard(), task,
                            jobId().hashCode() + task.getShard()));
                }
                out.add(JobEvents.state(jobId(), Stage.STAGE_PLANNER, JobState.JOB_STATE_SCORING, Stage.STAGE_SCORER,
                        shards.size(), String.format(Locale.ROOT, "%d calibration samples in %d shards",
                                request.getCalibrationSamples(), shards.size())));
            }
            case SELECTION -> {
                out.add(Outgoing.byKey(Topics.SCORE_RESULTS, jobId(), selectionTrigger()));
                out.add(JobEvents.state(jobId(), Stage.STAGE_PLANNER, JobState.JOB_STATE_SELECTING,
                        Stage.STAGE_SELECTOR, 1, recipe.criterion().cliName() + " selection"));
            }
            case TRAINING -> {
                out.addAll(trainingStart(null, null));
                out.add(JobEvents.state(jobId(), Stage.STAGE_PLANNER, JobState.JOB_STATE_TRAINING, Stage.STAGE_TRAINER,
                        trainerTasks(), recipe.method().trains() ? "plain QAT" + (blockwise(request) ? ", block-wise"
                                : "") : "GPTQ"));
            }
            case EVALUATION -> out.add(JobEvents.state(jobId(), Stage.STAGE_PLANNER, JobState.JOB_STATE_EVALUATING,
                    Stage.STAGE_EVALUATOR, EvalSharding.expectedResults(data, request), "round to nearest"));
        }
        return out;
    }

    /** The evaluation tasks the planner sends: the fp and rtn rows, on the input model. */
    public List<Outgoing> baselineEvaluation() {
        List<Outgoing> tasks = new ArrayList<>();
        for (String variant : EvalSharding.variants(request)) {
            if (variant.equals("fp") || variant.equals("rtn")) {
                tasks.addAll(EvalSharding.tasks(request, data, variant, request.getModel(), null));
            }
        }
        return tasks;
    }

    /** The evaluation tasks of the method's own row, on the model the trainer exported. */
    public List<Outgoing> methodEvaluation(QuantizedModelSummary quantized) {
        return EvalSharding.tasks(request, data, RequestSettings.recipe(request).method().wireName(),
                quantized.getModel(), quantized);
    }

    /**
     * The scoring shards: {@code calibration_shards} consecutive sample ranges {@code [from, to)}, shard i from
     * {@code i x samples / shards}, which together hold every calibration sample once.
     */
    public List<ScoreTask> scoreShards() {
        int shards = request.getCalibrationShards();
        int samples = request.getCalibrationSamples();
        List<ScoreTask> tasks = new ArrayList<>(shards);
        for (int shard = 0; shard < shards; shard++) {
            tasks.add(ScoreTask.newBuilder().setJobId(jobId()).setRequest(request).setData(data).setShard(shard)
                    .setShardCount(shards).setSampleFrom((int) ((long) shard * samples / shards))
                    .setSampleTo((int) ((long) (shard + 1) * samples / shards)).build());
        }
        return tasks;
    }

    /** The selector's trigger for a criterion that needs no scores: a result of an empty fan-in (0 shards). */
    public ScoreResult selectionTrigger() {
        return ScoreResult.newBuilder().setJobId(jobId()).setRequest(request).setData(data).setShardCount(0).build();
    }

    /** The job trains block by block ({@code training: blockwise}). */
    public static boolean blockwise(QuantizationRequest request) {
        return RequestSettings.trains(request)
                && RequestSettings.recipe(request).training().mode() == TrainingMode.BLOCKWISE;
    }

    /**
     * The trainer tasks of the job, as its progress counts them: the segments of end-to-end training, or block-wise
     * training's capture shards, one task per block and the assembly.
     */
    public int trainerTasks() {
        return blockwise(request) ? captureShards(request) + data.getLayers() + 1 : RequestSettings.segments(request);
    }

    /**
     * Block-wise training's capture tasks: as many as end-to-end training's segments ({@code segment_steps}), the
     * run's windows split evenly over them ({@link #captureWindows}).
     */
    public static int captureShards(QuantizationRequest request) {
        return RequestSettings.segments(request);
    }

    /**
     * The first trainer tasks, with the selector's cherries and heterogeneity report (null when there are none):
     * end-to-end training's segment 0 (keyed by job: segments follow one another), or block-wise training's capture
     * shards (spread over partitions, so that trainer workers capture in parallel).
     */
    public List<Outgoing> trainingStart(TensorRef cherries, TensorRef report) {
        TrainTask.Builder first = firstSegment();
        if (cherries != null) {
            first.setCherries(cherries);
        }
        if (report != null) {
            first.setHeterogeneityReport(report);
        }
        if (!blockwise(request)) {
            return List.of(Outgoing.byKey(Topics.TRAIN_TASKS, jobId(), first.build()));
        }
        int shards = captureShards(request);
        List<Outgoing> tasks = new ArrayList<>(shards);
        for (int shard = 0; shard < shards; shard++) {
            TrainTask capture = first.clone().setBlockwise(BlockwiseStep.BLOCKWISE_STEP_CAPTURE).setBlock(shard)
                    .setCaptureShards(shards).setSegment(shard).setSegmentCount(trainerTasks()).build();
            tasks.add(Outgoing.spread(Topics.TRAIN_TASKS, jobId() + "/capture/" + shard, capture,
                    jobId().hashCode() + shard));
        }
        return tasks;
    }

    /**
     * Capture shard {@code shard}'s training windows, as indices into the run's windows in training order
     * ({@code CherryqPipeline.blockwiseWindowStarts}): {@code [i x windows / shards, (i + 1) x windows / shards)}.
     */
    public static int[] captureWindows(int windows, int shards, int shard) {
        return new int[] {(int) ((long) shard * windows / shards), (int) ((long) (shard + 1) * windows / shards)};
    }

    /** Block-wise training's block tasks once every capture shard is stored: one per decoder block, spread. */
    public List<Outgoing> blockTasks(TrainTask capture) {
        List<Outgoing> tasks = new ArrayList<>(data.getLayers());
        for (int block = 0; block < data.getLayers(); block++) {
            TrainTask task = capture.toBuilder().setBlockwise(BlockwiseStep.BLOCKWISE_STEP_BLOCK).setBlock(block)
                    .setSegment(capture.getCaptureShards() + block).build();
            tasks.add(Outgoing.spread(Topics.TRAIN_TASKS, jobId() + "/block/" + block, task,
                    jobId().hashCode() + block));
        }
        return tasks;
    }

    /** Block-wise training's last task once every block is trained: the model assembled, exported, evaluated. */
    public Outgoing assembleTask(TrainTask block) {
        TrainTask task = block.toBuilder().setBlockwise(BlockwiseStep.BLOCKWISE_STEP_ASSEMBLE).setBlock(0)
                .setSegment(trainerTasks() - 1).setFromStep(0).setToStep(request.getQat().getSteps()).build();
        return Outgoing.byKey(Topics.TRAIN_TASKS, jobId(), task);
    }

    /**
     * The first trainer task: segment 0 of {@link RequestSettings#segments}, steps {@code [0, first end)} (no steps
     * for GPTQ alone). The selector adds its cherries and report.
     */
    public TrainTask.Builder firstSegment() {
        return TrainTask.newBuilder().setJobId(jobId()).setRequest(request).setData(data).setSegment(0)
                .setSegmentCount(RequestSettings.segments(request)).setFromStep(0)
                .setToStep(RequestSettings.firstSegmentEnd(request));
    }

    /** Whether a finished trainer task was the job's last: it reached the recipe's steps (always, for GPTQ alone). */
    public static boolean lastSegment(TrainTask finished) {
        QuantizationRecipe recipe = RequestSettings.recipe(finished.getRequest());
        return finished.getToStep() >= (recipe.method().trains() ? recipe.training().steps() : 0);
    }

    /**
     * The trainer task after {@code finished}: the next segment's steps, {@code segment_steps} more up to the
     * recipe's steps, resuming from {@code checkpoint}. Only QAT has more than one segment.
     */
    public static TrainTask nextSegment(TrainTask finished, TensorRef checkpoint) {
        QuantizationRequest request = finished.getRequest();
        return finished.toBuilder().setSegment(finished.getSegment() + 1).setFromStep(finished.getToStep())
                .setToStep(Math.min(finished.getToStep() + request.getQat().getSegmentSteps(),
                        request.getQat().getSteps()))
                .setPreviousCheckpoint(checkpoint).build();
    }
}
