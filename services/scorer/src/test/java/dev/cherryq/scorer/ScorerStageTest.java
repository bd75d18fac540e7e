package dev.cherryq.scorer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherAssertions;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.ImpactScorer;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.task.FatalTaskException;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.fleet.testing.StageFixtures;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.ScoreTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scorer service against a real broker, checked against the core scorer run directly. */
class ScorerStageTest {

    @TempDir
    Path directory;

    private static ScoreTask task(QuantizationRequest request, PreparedData data, int shard) {
        return ScoreTask.newBuilder().setJobId(request.getJobId()).setRequest(request).setData(data).setShard(shard)
                .setShardCount(2).setSampleFrom(shard * 4).setSampleTo(shard * 4 + 4).build();
    }

    /**
     * A result's layer partials read back and put together; each must hold one decoder layer's tensors, in layer
     * order, with the same sample set.
     */
    private FisherPartial joined(FilesystemObjectStore store, ScoreResult result) throws Exception {
        assertTrue(result.getLayerPartialsCount() > 1, "written per layer: " + result);
        java.util.Map<String, float[]> sums = new java.util.LinkedHashMap<>();
        java.util.Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        FisherPartial first = null;
        for (int group = 0; group < result.getLayerPartialsCount(); group++) {
            assertEquals(group, result.getLayerPartials(group).getGroup());
            FisherPartial part = FisherPartial.read(store.fetch(result.getLayerPartials(group).getPartial(), directory));
            for (String name : part.sums().keySet()) {
                assertEquals(group, dev.cherryq.core.model.LlamaTensorNames.layerOf(name), name + " in group " + group);
            }
            first = first == null ? part : first;
            assertEquals(first.samples(), part.samples());
            sums.putAll(part.sums());
            shapes.putAll(part.shapes());
        }
        return new FisherPartial(first.fingerprint(), first.samples(), sums, shapes);
    }

    @Test
    void shouldScoreEachShardAsTheCoreScorerDoesAndNotRecomputeADuplicate() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            ServiceHost host = harness.start("scorer", List.of(StageVerticle.of(ScorerHandler::new)));
            QuantizationRequest request = StageFixtures.request("job-score");
            PreparedData data = StageFixtures.prepare(harness, "job-score");
            harness.send(Topics.SCORE_TASKS, "job-score/1", task(request, data, 1));
            harness.send(Topics.SCORE_TASKS, "job-score/0", task(request, data, 0));
            List<ScoreResult> results = harness.await(Topics.SCORE_RESULTS, ScoreResult.parser(), r -> r.size() >= 2);
            assertEquals(2, results.size());

            // independent reference: the core scorer on the same samples, in this JVM
            CalibrationSamples samples = new CalibrationSamples(StageFixtures.tokens(harness,
                    data.getCalibrationTokens()), 8, StageFixtures.SEQ_LEN, request.getSeed());
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                for (ScoreResult result : results) {
                    FisherPartial expected = ImpactScorer.score(model, samples, result.getShard() * 4,
                            result.getShard() * 4 + 4, Progress.NONE);
                    FisherPartial actual = joined(store, result);
                    assertEquals(expected.samples(), actual.samples());
                    assertEquals(expected.sums().keySet(), actual.sums().keySet());
                    for (String name : expected.sums().keySet()) {
                        assertArrayEquals(expected.sums().get(name), actual.sums().get(name), name);
                    }
                }
            }

            harness.send(Topics.SCORE_TASKS, "job-score/0", task(request, data, 0)); // redelivery
            List<ScoreResult> again = harness.await(Topics.SCORE_RESULTS, ScoreResult.parser(), r -> r.size() >= 3);
            ScoreResult first = results.stream().filter(r -> r.getShard() == 0).findFirst().orElseThrow();
            assertEquals(first.getLayerPartialsList(), again.get(2).getLayerPartialsList(), "same objects, same sha256");
            assertTrue(again.get(2).getTiming().getWorker().contains("/"), "the result says which process ran it");
            String[] expected = {"cherryq_tasks_deduplicated_total{stage=\"scorer\"} 1.0",
                    "cherryq_tasks_completed_total{stage=\"scorer\"} 3.0",
                    "cherryq_tokens_processed_total{stage=\"scorer\"} 256.0"};
            String metrics = FleetHarness.awaitMetrics(host, expected);
            for (String sample : expected) {
                assertTrue(metrics.contains(sample), sample + " in\n" + metrics);
            }
        }
    }

    @Test
    void shouldScoreWithOneBlockInMemoryWhenDepthStreamingIsOn() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("scorer", List.of(StageVerticle.of(ScorerHandler::new)),
                    Map.of(FleetConfig.DEPTH_STREAMING.name(), "true"));
            QuantizationRequest request = StageFixtures.request("job-streamed");
            PreparedData data = StageFixtures.prepare(harness, "job-streamed");
            harness.send(Topics.SCORE_TASKS, "job-streamed/1", task(request, data, 1));
            ScoreResult result = harness.await(Topics.SCORE_RESULTS, ScoreResult.parser(), r -> r.size() >= 1).get(0);

            // the whole-model core scorer on the same samples: equal up to the order of float sums
            CalibrationSamples samples = new CalibrationSamples(StageFixtures.tokens(harness,
                    data.getCalibrationTokens()), 8, StageFixtures.SEQ_LEN, request.getSeed());
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                FisherPartial expected = ImpactScorer.score(model, samples, 4, 8, Progress.NONE);
                FisherPartial actual = joined(store, result);
                assertEquals(expected.samples(), actual.samples());
                FisherAssertions.assertSameSums(expected.sums(), actual.sums());
            }
        }
    }

    @Test
    void shouldFailTheJobWhenItsCalibrationTokensWereCorruptedAfterUpload() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("scorer", List.of(StageVerticle.of(ScorerHandler::new)));
            QuantizationRequest request = StageFixtures.request("job-corrupt");
            PreparedData data = StageFixtures.prepare(harness, "job-corrupt");
            Path stored = Path.of(java.net.URI.create(data.getCalibrationTokens().getUri()));
            byte[] bytes = Files.readAllBytes(stored);
            bytes[bytes.length / 2] ^= 1;
            Files.write(stored, bytes);
            harness.send(Topics.SCORE_TASKS, "job-corrupt/0", task(request, data, 0));
            List<JobEvent> events = harness.await(Topics.JOB_EVENTS, JobEvent.parser(), e -> !e.isEmpty());
            assertEquals(JobState.JOB_STATE_FAILED, events.get(0).getState());
            assertEquals(FatalTaskException.INTEGRITY, events.get(0).getError().getCode());
            assertTrue(events.get(0).getError().getMessage().contains("sha256"), events.get(0).getError().getMessage());
        }
    }
}
