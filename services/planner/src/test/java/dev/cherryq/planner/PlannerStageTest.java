package dev.cherryq.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.fleet.testing.StageFixtures;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.Stage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planner stage against a real broker and the filesystem store: the token ids it stores are the demo tokenizer's
 * own, it publishes its plan once however often the request comes, and it fails and dead-letters a request it cannot
 * plan.
 */
class PlannerStageTest {

    @TempDir
    Path directory;

    @Test
    void shouldStoreTheTokenizersIdsAndPublishThePlanOnceForARepeatedRequest() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            ServiceHost host = harness.start("planner", PlannerMain.verticles());
            Path calibration = Files.writeString(harness.dataDirectory().resolve("calibration.txt"),
                    FleetHarness.sampleText(40, 1));
            Path heldOut = Files.writeString(harness.dataDirectory().resolve("heldout.txt"),
                    FleetHarness.sampleText(12, 3));
            QuantizationRequest base = StageFixtures.request("job-plan");
            QuantizationRequest request = base.toBuilder().setCalibrationDataUri(calibration.toString())
                    .setTrainDataUri(calibration.toString())
                    .setEval(base.getEval().toBuilder().setDataUri(heldOut.toString())).build();
            harness.send(Topics.REQUESTS, "job-plan", request);
            List<ScoreTask> shards = harness.await(Topics.SCORE_TASKS, ScoreTask.parser(), tasks -> tasks.size() >= 2);
            assertEquals(2, shards.size());
            assertEquals(List.of(0, 4, 4, 8), shards.stream().sorted(Comparator.comparingInt(ScoreTask::getShard))
                    .flatMap(task -> Stream.of(task.getSampleFrom(), task.getSampleTo())).toList(),
                    "8 calibration samples in 2 shards");

            // independent reference: the demo tokenizer on the same texts, as cherryq eval reads them
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            ScoreTask first = shards.get(0);
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                Tokenizer tokenizer = Tokenizer.load(checkpoint.bundledTokenizer().orElseThrow());
                assertArrayEquals(EvalCorpus.tokenizeText(heldOut, tokenizer, EvalCorpus.DocumentJoin.GPTQ),
                        StageFixtures.tokens(harness, first.getData().getEvalTokens()));
                assertArrayEquals(EvalCorpus.tokenizeText(calibration, tokenizer, EvalCorpus.DocumentJoin.GPTQ),
                        StageFixtures.tokens(harness, first.getData().getCalibrationTokens()));
            }
            assertEquals(first.getData().getCalibrationTokens(), first.getData().getTrainTokens(),
                    "one text for calibration and training: stored once");
            List<EvalTask> baselines = harness.await(Topics.EVAL_TASKS, EvalTask.parser(), tasks -> !tasks.isEmpty());
            assertTrue(baselines.stream().allMatch(task -> task.getVariant().equals("fp")), "the fp baseline only");
            assertTrue(new CompletionMarkers(store).isMarked("job-plan", Stage.STAGE_PLANNER),
                    "marked after publishing");

            harness.send(Topics.REQUESTS, "job-plan", request); // a replay: planned already
            FleetHarness.awaitMetrics(host, "cherryq_tasks_deduplicated_total{stage=\"planner\"} 1.0");
            assertEquals(2, harness.readAll(Topics.SCORE_TASKS, ScoreTask.parser()).size(), "planned once");
        }
    }

    @Test
    void shouldFailAndDeadLetterARequestItCannotPlan() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("planner", PlannerMain.verticles());
            QuantizationRequest request = StageFixtures.request("job-refused").toBuilder().setBits(9).build();
            harness.send(Topics.REQUESTS, "job-refused", request);
            List<JobEvent> events = harness.await(Topics.JOB_EVENTS, JobEvent.parser(),
                    all -> all.stream().anyMatch(event -> event.getState() == JobState.JOB_STATE_FAILED));
            JobEvent failed = events.stream().filter(event -> event.getState() == JobState.JOB_STATE_FAILED)
                    .findFirst().orElseThrow(() -> new AssertionError("no FAILED event: " + events));
            assertEquals("job-refused", failed.getJobId());
            assertTrue(failed.getError().getMessage().contains("bits"), failed.getError().getMessage());
            List<ConsumerRecord<String, byte[]>> dead = harness.awaitRecords(Topics.DEAD_LETTERS,
                    records -> !records.isEmpty());
            assertEquals(1, dead.size());
            assertEquals("job-refused", dead.get(0).key());
            assertEquals(Topics.REQUESTS.name(), new String(dead.get(0).headers().lastHeader(Topics.HEADER_SOURCE_TOPIC)
                    .value(), StandardCharsets.UTF_8));
            assertTrue(harness.readAll(Topics.SCORE_TASKS, ScoreTask.parser()).isEmpty(), "nothing planned");
        }
    }
}
