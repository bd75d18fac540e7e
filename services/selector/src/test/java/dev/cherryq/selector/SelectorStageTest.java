package dev.cherryq.selector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.ImpactScorer;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.fleet.testing.StageFixtures;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.TrainTask;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The selector's fan-in against a real broker, with partials arriving out of order and twice, and one more after the
 * fan-in completed, which must change nothing.
 */
class SelectorStageTest {

    @TempDir
    Path directory;

    @Test
    void shouldSelectTheSameCherriesWhateverTheArrivalOrderAndDuplicates() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            var host = harness.start("selector", List.of(StageVerticle.of(SelectorHandler::new)));
            QuantizationRequest request = StageFixtures.request("job-select").toBuilder().setCalibrationShards(4).build();
            PreparedData data = StageFixtures.prepare(harness, "job-select");
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            CalibrationSamples samples = new CalibrationSamples(StageFixtures.tokens(harness,
                    data.getCalibrationTokens()), 8, StageFixtures.SEQ_LEN, request.getSeed());
            List<ScoreResult> results = new ArrayList<>();
            List<FisherPartial> partials = new ArrayList<>();
            Map<String, long[]> shapes;
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                shapes = LlamaTensorNames.linearWeightShapes(checkpoint.config());
                for (int shard = 0; shard < 4; shard++) {
                    FisherPartial partial = ImpactScorer.score(model, samples, 2 * shard, 2 * shard + 2, Progress.NONE);
                    partials.add(partial);
                    Path file = directory.resolve("partial-" + shard + ".safetensors");
                    partial.write(file);
                    TensorRef ref = store.put("jobs/job-select/scorer/fisher-" + shard, file,
                            ObjectStore.MEDIA_SAFETENSORS, "");
                    results.add(ScoreResult.newBuilder().setJobId("job-select").setRequest(request).setData(data)
                            .setShard(shard).setShardCount(4).setPartialFisher(ref).build());
                }
            }
            for (int shard : new int[] {3, 1, 1, 0}) { // out of order, one duplicate, one still missing
                harness.send(Topics.SCORE_RESULTS, "job-select", results.get(shard));
            }
            harness.send(Topics.SCORE_RESULTS, "job-select", results.get(2));
            List<TrainTask> tasks = harness.await(Topics.TRAIN_TASKS, TrainTask.parser(), t -> !t.isEmpty());
            assertEquals(1, tasks.size(), "selection runs once, when the last shard arrives");
            harness.send(Topics.SCORE_RESULTS, "job-select", results.get(2)); // a duplicate after completion
            // counted once handled, after anything it would have published: then no second training task exists
            String deduplicated = "cherryq_tasks_deduplicated_total{stage=\"selector\"} 1.0";
            String completed = "cherryq_tasks_completed_total{stage=\"selector\"} 6.0";
            String metrics = FleetHarness.awaitMetrics(host, deduplicated, completed);
            assertTrue(metrics.contains(deduplicated) && metrics.contains(completed), metrics);
            List<TrainTask> again = harness.readAll(Topics.TRAIN_TASKS, TrainTask.parser());
            assertEquals(1, again.size(), "a late duplicate changes nothing downstream: " + again);
            TrainTask first = again.get(0);
            assertEquals(0, first.getSegment());
            assertEquals(2, first.getSegmentCount());
            assertEquals(0, first.getFromStep());
            assertEquals(2, first.getToStep());

            // independent reference: the partials merged in shard order, selected by the core selector
            FisherPartial merged = partials.get(0).merge(partials.get(1)).merge(partials.get(2)).merge(partials.get(3));
            CherrySet expected = CherrySelector.select(SelectionCriterion.IMPACT, request.getCherryFraction(),
                    merged.impacts(), shapes, request.getSeed());
            CherrySet actual = CherrySet.read(store.fetch(first.getCherries(), directory));
            assertEquals(expected.layers().keySet(), actual.layers().keySet());
            expected.layers().forEach((name, layer) ->
                    assertArrayEquals(layer.columns(), actual.layers().get(name).columns(), name));
            String report = new String(store.fetchBytes(first.getHeterogeneityReport()));
            assertTrue(report.contains("\"heterogeneity\""), report);
        }
    }
}
