package dev.cherryq.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.quant.RtnQuantizer;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.job.EvalSharding;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.fleet.testing.StageFixtures;
import dev.cherryq.proto.v1.EvalResult;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.Method;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.VariantResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Evaluation shards and their fan-in against a real broker, checked against one core evaluation of all windows. */
class EvaluatorStageTest {

    @TempDir
    Path directory;

    private static double meanNll(Path model, int[] tokens) {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model); LlamaModel llama = LlamaModel.load(checkpoint)) {
            PerplexityResult result = new PerplexityEvaluator(llama, 4)
                    .evaluate(new TokenWindows(tokens, StageFixtures.SEQ_LEN), Progress.NONE);
            return result.meanNll();
        }
    }

    @Test
    void shouldEvaluateWithOneBlockInMemoryWhenDepthStreamingIsOn() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("evaluator", List.of(StageVerticle.of(EvaluatorHandler::new),
                    StageVerticle.of(EvalFanInHandler::new)), Map.of(FleetConfig.DEPTH_STREAMING.name(), "true"));
            QuantizationRequest request = StageFixtures.request("job-streamed").toBuilder()
                    .setMethod(Method.METHOD_RTN).build();
            PreparedData data = StageFixtures.prepare(harness, "job-streamed");
            List<Outgoing> tasks = new ArrayList<>(EvalSharding.tasks(request, data, "fp", request.getModel(), null));
            tasks.addAll(EvalSharding.tasks(request, data, "rtn", request.getModel(), null));
            for (Outgoing task : tasks) {
                harness.send(Topics.EVAL_TASKS, task.key(), task.message());
            }
            JobEvent completed = harness.await(Topics.JOB_EVENTS, JobEvent.parser(),
                    e -> e.stream().anyMatch(event -> event.getState() == JobState.JOB_STATE_COMPLETED)).stream()
                    .filter(e -> e.getState() == JobState.JOB_STATE_COMPLETED).findFirst().orElseThrow();

            // the whole-model core evaluation over all windows: the same NLL up to the order of float sums
            int[] tokens = StageFixtures.tokens(harness, data.getEvalTokens());
            Path rtn = directory.resolve("rtn");
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                RtnQuantizer.quantize(checkpoint, RequestSettings.recipe(request).quantSpec(), rtn, Progress.NONE);
            }
            assertEquals(meanNll(FleetHarness.demoModel(), tokens), completed.getResult().getVariants(0).getMeanNll(),
                    1e-5);
            assertEquals(meanNll(rtn, tokens), completed.getResult().getVariants(1).getMeanNll(), 1e-5);
        }
    }

    @Test
    void shouldAddUpShardsInAnyOrderWithDuplicatesToTheOneProcessPerplexity() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            var host = harness.start("evaluator", List.of(StageVerticle.of(EvaluatorHandler::new),
                    StageVerticle.of(EvalFanInHandler::new)));
            QuantizationRequest request = StageFixtures.request("job-eval").toBuilder().setMethod(Method.METHOD_RTN)
                    .build();
            PreparedData data = StageFixtures.prepare(harness, "job-eval");
            int shards = EvalSharding.shards(data, request);
            assertTrue(shards >= 3, "several shards per variant: " + shards);
            List<Outgoing> tasks = new ArrayList<>();
            tasks.addAll(EvalSharding.tasks(request, data, "fp", request.getModel(), null));
            tasks.addAll(EvalSharding.tasks(request, data, "rtn", request.getModel(), null));
            tasks.add(tasks.get(1)); // a redelivered task
            Collections.shuffle(tasks, new Random(11));
            for (Outgoing task : tasks) {
                harness.send(Topics.EVAL_TASKS, task.key(), task.message());
            }
            List<JobEvent> events = harness.await(Topics.JOB_EVENTS, JobEvent.parser(),
                    e -> e.stream().anyMatch(event -> event.getState() == JobState.JOB_STATE_COMPLETED));
            JobEvent completed = events.stream().filter(e -> e.getState() == JobState.JOB_STATE_COMPLETED)
                    .findFirst().orElseThrow();
            List<EvalResult> results = harness.await(Topics.EVAL_RESULTS, EvalResult.parser(),
                    r -> r.size() >= 2 * shards + 1);
            assertEquals(2 * shards + 1, results.size(), "the duplicate task re-publishes its stored result");
            // a result replayed after the job completed: handled (tasks and fan-in records, 2 x (2 x shards + 1),
            // plus this one) and nothing published
            harness.send(Topics.EVAL_RESULTS, "job-eval", results.get(0));
            String handled = "cherryq_tasks_completed_total{stage=\"evaluator\"} " + (4 * shards + 3) + ".0";
            String metrics = FleetHarness.awaitMetrics(host, handled);
            assertTrue(metrics.contains(handled), metrics);
            List<JobEvent> after = harness.readAll(Topics.JOB_EVENTS, JobEvent.parser());
            assertEquals(1, after.stream().filter(e -> e.getState() == JobState.JOB_STATE_COMPLETED).count(),
                    "one completion, whatever arrives after it: " + after);

            // independent reference: one core evaluation over all windows, full precision and RTN
            int[] tokens = StageFixtures.tokens(harness, data.getEvalTokens());
            Path rtn = directory.resolve("rtn");
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                RtnQuantizer.quantize(checkpoint, RequestSettings.recipe(request).quantSpec(), rtn, Progress.NONE);
            }
            VariantResult fp = completed.getResult().getVariants(0);
            VariantResult rtnRow = completed.getResult().getVariants(1);
            assertEquals("fp", fp.getVariant());
            assertEquals("rtn", rtnRow.getVariant());
            assertEquals(meanNll(FleetHarness.demoModel(), tokens), fp.getMeanNll(), 1e-6);
            assertEquals(meanNll(rtn, tokens), rtnRow.getMeanNll(), 1e-6);
            assertTrue(rtnRow.getMeanNll() > fp.getMeanNll(), "3-bit RTN loses something");
            assertTrue(completed.getResult().hasReport());
        }
    }
}
