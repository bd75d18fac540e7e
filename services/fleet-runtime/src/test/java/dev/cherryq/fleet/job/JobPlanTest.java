package dev.cherryq.fleet.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.proto.v1.EvalSpec;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QatHyperparameters;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.TrainTask;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The job's fan-out as messages, with no broker or store: every method's route, the score shards' sample ranges,
 * the trainer's segment chain and the evaluation tasks, each checked against what the ranges must add up to.
 */
class JobPlanTest {

    private static final String JOB = "job-plan-test";
    private static final int SEQ_LEN = 32;
    private static final int EVAL_TOKENS = 1000; // 31 windows of 32: 2 shards of 16 windows per variant
    private static final PreparedData DATA = PreparedData.newBuilder().setVocabSize(512).setParameterCount(1_000_000)
            .setEvalTokens(tokens("eval", EVAL_TOKENS)).setCalibrationTokens(tokens("calibration", 5000))
            .setTrainTokens(tokens("calibration", 5000)).build();

    private static TensorRef tokens(String name, int count) {
        return TensorRef.newBuilder().setUri("file:///store/jobs/" + JOB + "/planner/" + name + "-tokens.i32")
                .setDtype("I32").addShape(count).setByteLength(4L * count).build();
    }

    private static QuantizationRequest request(QuantizationRecipe recipe, int shards, int segmentSteps,
            List<String> baselines) {
        QuantizationRequest.Builder request = QuantizationRequest.newBuilder().setJobId(JOB)
                .setModel(ModelRef.newBuilder().setUri("models/demo")).setCalibrationDataUri("calibration.txt")
                .setTrainDataUri("calibration.txt").setCalibrationShards(shards)
                .setEval(EvalSpec.newBuilder().setDataUri("heldout.txt").setWindowsPerShard(16).setBatchSize(8)
                        .addAllBaselines(baselines))
                .setQat(QatHyperparameters.newBuilder().setSegmentSteps(segmentSteps));
        return RecipeProto.apply(recipe.withSequenceLength(SEQ_LEN), request).build();
    }

    private static QuantizationRecipe recipe(QuantMethod method) {
        return QuantizationRecipe.DEFAULTS.withMethod(method);
    }

    private static JobPlan plan(QuantizationRecipe recipe) {
        return new JobPlan(request(recipe, 4, 50, List.of("fp", "rtn")), DATA);
    }

    private static List<Outgoing> on(List<Outgoing> messages, TopicSpec topic) {
        return messages.stream().filter(message -> message.topic().equals(topic)).toList();
    }

    private static List<JobEvent> events(List<Outgoing> messages) {
        return on(messages, Topics.JOB_EVENTS).stream().map(message -> (JobEvent) message.message()).toList();
    }

    /** The last event: the state the plan moves the job to. */
    private static JobEvent nextState(List<Outgoing> messages) {
        List<JobEvent> events = events(messages);
        return events.get(events.size() - 1);
    }

    @ParameterizedTest(name = "{0} samples in {1} shards")
    @CsvSource({"128, 4", "10, 3", "7, 7", "1000, 13", "1, 1", "1000000, 9999"})
    void shouldCoverEveryCalibrationSampleExactlyOnceAcrossTheScoreShards(int samples, int shards) {
        QuantizationRecipe recipe = recipe(QuantMethod.CHERRYQ).withCriterion(SelectionCriterion.IMPACT)
                .withCalibrationSamples(samples);
        JobPlan plan = new JobPlan(request(recipe, shards, 50, List.of()), DATA);
        List<ScoreTask> tasks = plan.scoreShards();
        assertEquals(shards, tasks.size());
        int next = 0;
        long covered = 0;
        for (int shard = 0; shard < shards; shard++) {
            ScoreTask task = tasks.get(shard);
            assertEquals(shard, task.getShard());
            assertEquals(shards, task.getShardCount());
            assertEquals(next, task.getSampleFrom(), "shard " + shard + " starts where the previous ended");
            assertTrue(task.getSampleTo() > task.getSampleFrom(), "shard " + shard + " is not empty");
            covered += task.getSampleTo() - task.getSampleFrom();
            next = task.getSampleTo();
            assertEquals(plan.request(), task.getRequest());
            assertEquals(DATA, task.getData());
        }
        assertEquals(samples, next, "the last shard ends at the last sample");
        assertEquals(samples, covered, "the shards' sizes sum to the calibration samples");
    }

    @ParameterizedTest(name = "cherryq with {0} scores")
    @CsvSource({"IMPACT", "SALIENCY", "GROUP_AWARE"})
    void shouldScoreFirstForAFisherCriterion(SelectionCriterion criterion) {
        JobPlan plan = plan(recipe(QuantMethod.CHERRYQ).withCriterion(criterion));
        assertEquals(JobPlan.Route.SCORING, plan.route());
        List<Outgoing> messages = plan.messages();
        List<Outgoing> shards = on(messages, Topics.SCORE_TASKS);
        assertEquals(4, shards.size());
        for (int shard = 0; shard < 4; shard++) {
            Outgoing out = shards.get(shard);
            assertEquals(JOB + "/" + shard, out.key());
            assertEquals(JOB.hashCode() + shard, out.spreadIndex(), "shards spread over partitions from the job's");
            assertEquals(plan.scoreShards().get(shard), out.message());
        }
        assertTrue(on(messages, Topics.SCORE_RESULTS).isEmpty() && on(messages, Topics.TRAIN_TASKS).isEmpty());
        JobEvent scoring = nextState(messages);
        assertEquals(JobState.JOB_STATE_SCORING, scoring.getState());
        assertEquals(Stage.STAGE_SCORER, scoring.getProgress().getStage());
        assertEquals(4, scoring.getProgress().getTotal());
        assertEquals("128 calibration samples in 4 shards", scoring.getProgress().getDetail());
    }

    @ParameterizedTest(name = "cherryq with {0} selection")
    @CsvSource({"MAGNITUDE", "RANDOM"})
    void shouldTriggerTheSelectorWithAnEmptyFanInForACriterionWithoutScores(SelectionCriterion criterion) {
        JobPlan plan = plan(recipe(QuantMethod.CHERRYQ).withCriterion(criterion));
        assertEquals(JobPlan.Route.SELECTION, plan.route());
        List<Outgoing> messages = plan.messages();
        List<Outgoing> triggers = on(messages, Topics.SCORE_RESULTS);
        assertEquals(1, triggers.size());
        ScoreResult trigger = (ScoreResult) triggers.get(0).message();
        assertEquals(0, trigger.getShardCount(), "shard count 0: nothing to wait for");
        assertEquals(JOB, triggers.get(0).key());
        assertEquals(null, triggers.get(0).spreadIndex());
        assertEquals(plan.request(), trigger.getRequest());
        assertEquals(DATA, trigger.getData());
        assertTrue(on(messages, Topics.SCORE_TASKS).isEmpty() && on(messages, Topics.TRAIN_TASKS).isEmpty());
        JobEvent selecting = nextState(messages);
        assertEquals(JobState.JOB_STATE_SELECTING, selecting.getState());
        assertEquals(Stage.STAGE_SELECTOR, selecting.getProgress().getStage());
        assertEquals(1, selecting.getProgress().getTotal());
        assertEquals(criterion.cliName() + " selection", selecting.getProgress().getDetail());
    }

    @ParameterizedTest(name = "{0} from {1}: {2} steps in segments of {3}")
    @CsvSource({"QAT, RTN, 200, 50, 4", "QAT, RTN, 100, 30, 4", "QAT, GPTQ, 7, 50, 1", "QAT, RTN, 1, 1, 1",
            "GPTQ, RTN, 200, 50, 1"})
    void shouldSendTheFirstTrainerTaskForQatAndGptq(QuantMethod method, InitMethod init, int steps, int segmentSteps,
            int segments) {
        QuantizationRecipe recipe = recipe(method).withInit(init)
                .withTraining(QuantizationRecipe.DEFAULTS.training().withSteps(steps));
        JobPlan plan = new JobPlan(request(recipe, 4, segmentSteps, List.of("fp", "rtn")), DATA);
        assertEquals(JobPlan.Route.TRAINING, plan.route());
        List<Outgoing> messages = plan.messages();
        List<Outgoing> train = on(messages, Topics.TRAIN_TASKS);
        assertEquals(1, train.size());
        assertEquals(JOB, train.get(0).key());
        TrainTask first = (TrainTask) train.get(0).message();
        assertEquals(0, first.getSegment());
        assertEquals(segments, first.getSegmentCount());
        assertEquals(0, first.getFromStep());
        boolean trains = method == QuantMethod.QAT;
        assertEquals(trains ? Math.min(segmentSteps, steps) : 0, first.getToStep(), "GPTQ alone trains no steps");
        assertFalse(first.hasPreviousCheckpoint() || first.hasCherries());
        assertTrue(on(messages, Topics.SCORE_TASKS).isEmpty() && on(messages, Topics.SCORE_RESULTS).isEmpty());
        JobEvent training = nextState(messages);
        assertEquals(JobState.JOB_STATE_TRAINING, training.getState());
        assertEquals(Stage.STAGE_TRAINER, training.getProgress().getStage());
        assertEquals(segments, training.getProgress().getTotal());
        assertEquals(trains ? "plain QAT" : "GPTQ", training.getProgress().getDetail());

        // the trainer's chain from there: contiguous segments that end at the last step, as many as announced
        List<TrainTask> chain = new ArrayList<>(List.of(first));
        while (!JobPlan.lastSegment(chain.get(chain.size() - 1))) {
            TrainTask previous = chain.get(chain.size() - 1);
            TensorRef checkpoint = tokens("checkpoint-" + previous.getToStep(), 1);
            TrainTask next = JobPlan.nextSegment(previous, checkpoint);
            assertEquals(previous.getSegment() + 1, next.getSegment());
            assertEquals(previous.getToStep(), next.getFromStep());
            assertTrue(next.getToStep() > next.getFromStep());
            assertEquals(checkpoint, next.getPreviousCheckpoint(), "each segment resumes from the one before");
            chain.add(next);
        }
        assertEquals(segments, chain.size());
        assertEquals(trains ? steps : 0, chain.get(chain.size() - 1).getToStep());
    }

    @Test
    void shouldTrainStraightAwayForCherryqWithoutCherries() {
        JobPlan plan = plan(recipe(QuantMethod.CHERRYQ).withCherryFraction(0));
        assertEquals(JobPlan.Route.TRAINING, plan.route());
        assertEquals(1, on(plan.messages(), Topics.TRAIN_TASKS).size());
    }

    @Test
    void shouldGoStraightToEvaluationForRoundToNearest() {
        for (List<String> baselines : List.of(List.of("fp", "rtn"), List.<String>of())) {
            JobPlan plan = new JobPlan(request(recipe(QuantMethod.RTN), 4, 50, baselines), DATA);
            assertEquals(JobPlan.Route.EVALUATION, plan.route());
            List<Outgoing> messages = plan.messages();
            for (TopicSpec topic : List.of(Topics.SCORE_TASKS, Topics.SCORE_RESULTS, Topics.TRAIN_TASKS)) {
                assertTrue(on(messages, topic).isEmpty(), topic.name());
            }
            Map<String, List<EvalTask>> byVariant = evaluation(messages);
            // the method's own row is the rtn row: sent by the planner whether or not it was asked as a baseline
            assertEquals(baselines.contains("fp") ? List.of("fp", "rtn") : List.of("rtn"),
                    List.copyOf(byVariant.keySet()));
            int expected = byVariant.size() * 2;
            JobEvent evaluating = nextState(messages);
            assertEquals(JobState.JOB_STATE_EVALUATING, evaluating.getState());
            assertEquals(Stage.STAGE_EVALUATOR, evaluating.getProgress().getStage());
            assertEquals(expected, evaluating.getProgress().getTotal());
            assertEquals("round to nearest", evaluating.getProgress().getDetail());
        }
    }

    @ParameterizedTest(name = "baselines {0}")
    @CsvSource(value = {"fp;rtn", "fp", "rtn", "''"}, quoteCharacter = '\'')
    void shouldEvaluateTheRequestedBaselinesOnTheInputModelOverEveryWindow(String baselines) {
        List<String> requested = baselines.isEmpty() ? List.of() : List.of(baselines.split(";"));
        for (QuantMethod method : List.of(QuantMethod.CHERRYQ, QuantMethod.QAT, QuantMethod.GPTQ)) {
            JobPlan plan = new JobPlan(request(recipe(method), 4, 50, requested), DATA);
            Map<String, List<EvalTask>> byVariant = evaluation(plan.messages());
            assertEquals(requested.stream().sorted().toList(), List.copyOf(byVariant.keySet()), method.wireName());
            int variants = requested.size() + 1; // and the method's row, which the trainer sends
            for (List<EvalTask> tasks : byVariant.values()) {
                int windows = EVAL_TOKENS / SEQ_LEN;
                int next = 0;
                for (EvalTask task : tasks) {
                    assertEquals(next, task.getWindowFrom());
                    assertTrue(task.getWindowTo() - task.getWindowFrom() <= 16);
                    assertEquals(tasks.size(), task.getShardCount());
                    assertEquals(variants * tasks.size(), task.getExpectedResults());
                    assertEquals(plan.request().getModel(), task.getModel(), "baselines run on the input model");
                    assertFalse(task.hasQuantized());
                    next = task.getWindowTo();
                }
                assertEquals(windows, next, "every whole window is evaluated once");
            }
        }
    }

    @Test
    void shouldAnnouncePlanningFirstAndSendTheMethodsRowFromTheTrainersExport() {
        JobPlan plan = plan(recipe(QuantMethod.CHERRYQ));
        List<Outgoing> messages = plan.messages();
        JobEvent planning = (JobEvent) messages.get(0).message();
        assertEquals(JobState.JOB_STATE_PLANNING, planning.getState());
        assertEquals(Stage.STAGE_PLANNER, planning.getStage());
        assertEquals("1,000 eval tokens, 31 eval windows", planning.getProgress().getDetail());
        assertEquals(2, events(messages).size(), "planning, then the next state");
        List<String> order = messages.stream().map(out -> out.topic().name()).distinct().toList();
        assertEquals(List.of(Topics.JOB_EVENTS.name(), Topics.EVAL_TASKS.name(), Topics.SCORE_TASKS.name()), order,
                "planning, the baselines' tasks, the route's tasks, the next state");
        assertEquals(Topics.JOB_EVENTS, messages.get(messages.size() - 1).topic());
        QuantizedModelSummary exported = QuantizedModelSummary.newBuilder()
                .setModel(ModelRef.newBuilder().setUri("file:///store/jobs/" + JOB + "/trainer/model/"))
                .setEffectiveBits(3.2).build();
        List<Outgoing> method = plan.methodEvaluation(exported);
        assertEquals(2, method.size());
        for (Outgoing out : method) {
            EvalTask task = (EvalTask) out.message();
            assertEquals("cherryq", task.getVariant());
            assertEquals(exported.getModel(), task.getModel());
            assertEquals(exported, task.getQuantized());
            assertEquals(6, task.getExpectedResults(), "fp, rtn and cherryq, 2 shards each");
        }
    }

    /** Evaluation tasks by variant, variants sorted, tasks in shard order. */
    private static Map<String, List<EvalTask>> evaluation(List<Outgoing> messages) {
        Map<String, List<EvalTask>> byVariant = new TreeMap<>();
        for (Outgoing out : on(messages, Topics.EVAL_TASKS)) {
            EvalTask task = (EvalTask) out.message();
            assertEquals(JOB + "/" + task.getVariant() + "/" + task.getShard(), out.key());
            byVariant.computeIfAbsent(task.getVariant(), variant -> new ArrayList<>()).add(task);
        }
        return byVariant;
    }

    @Test
    void shouldPlanBlockwiseTrainingAsCaptureShardsThenOneTaskPerBlockThenTheAssembly() {
        QuantizationRecipe recipe = recipe(QuantMethod.QAT).withTraining(QuantizationRecipe.DEFAULTS.training()
                .withMode(dev.cherryq.core.recipe.TrainingMode.BLOCKWISE)); // 200 steps in segments of 50
        JobPlan plan = new JobPlan(request(recipe, 4, 50, List.of("fp")), DATA.toBuilder().setLayers(6).build());
        assertTrue(JobPlan.blockwise(plan.request()));
        assertEquals(4 + 6 + 1, plan.trainerTasks());
        List<Outgoing> planned = on(plan.messages(), Topics.TRAIN_TASKS);
        assertEquals(4, planned.size(), "one capture task per segment's windows");
        java.util.Set<Integer> partitions = new java.util.HashSet<>();
        int covered = 0;
        int windows = 200 * 4; // steps x batch (grad_accum 1)
        for (int shard = 0; shard < 4; shard++) {
            TrainTask capture = (TrainTask) planned.get(shard).message();
            assertEquals(dev.cherryq.proto.v1.BlockwiseStep.BLOCKWISE_STEP_CAPTURE, capture.getBlockwise());
            assertEquals(shard, capture.getBlock());
            assertEquals(4, capture.getCaptureShards());
            partitions.add(planned.get(shard).spreadIndex());
            int[] range = JobPlan.captureWindows(windows, 4, shard);
            assertEquals(covered, range[0], "shards are consecutive");
            covered = range[1];
        }
        assertEquals(windows, covered, "and together hold every window once");
        assertEquals(4, partitions.size(), "spread over partitions, so workers capture in parallel");
        List<Outgoing> blocks = plan.blockTasks((TrainTask) planned.get(3).message());
        assertEquals(6, blocks.size());
        for (int block = 0; block < 6; block++) {
            TrainTask task = (TrainTask) blocks.get(block).message();
            assertEquals(dev.cherryq.proto.v1.BlockwiseStep.BLOCKWISE_STEP_BLOCK, task.getBlockwise());
            assertEquals(block, task.getBlock());
            assertEquals(4 + block, task.getSegment(), "progress counts captures, then blocks");
        }
        TrainTask assemble = (TrainTask) plan.assembleTask((TrainTask) blocks.get(5).message()).message();
        assertEquals(dev.cherryq.proto.v1.BlockwiseStep.BLOCKWISE_STEP_ASSEMBLE, assemble.getBlockwise());
        assertEquals(plan.trainerTasks() - 1, assemble.getSegment());
        assertTrue(JobPlan.lastSegment(assemble));
    }

    @Test
    void shouldCountTheEndToEndPhaseAgainstTheTrainingTokenLimit() {
        QuantizationRecipe.Training blockwise = QuantizationRecipe.DEFAULTS.training()
                .withMode(dev.cherryq.core.recipe.TrainingMode.BLOCKWISE); // 200 steps x 4 windows of 32
        dev.cherryq.fleet.config.JobLimits limits = new dev.cherryq.fleet.config.JobLimits(1000, 200 * 4 * SEQ_LEN,
                Long.MAX_VALUE);
        RequestSettings.validate(request(recipe(QuantMethod.QAT).withTraining(blockwise), 4, 50, List.of()), limits);
        QuantizationRequest withPhase = request(recipe(QuantMethod.QAT).withTraining(blockwise.withEndToEndPhase(1,
                5e-3f)), 4, 50, List.of());
        String message = org.junit.jupiter.api.Assertions.assertThrows(dev.cherryq.core.InvalidInputException.class,
                () -> RequestSettings.validate(withPhase, limits)).getMessage();
        assertTrue(message.contains("(steps + e2e_steps) x batch_size x grad_accum x seq_len: 25,728 training tokens "
                + "exceed the fleet's limit of 25,600"), message);
    }
}
