package dev.cherryq.selector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.Progress;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.proto.v1.Criterion;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.LayerPartial;
import dev.cherryq.proto.v1.Stage;
import java.util.TreeMap;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.ImpactScorer;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
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
 * The selector's three steps (score fan-in, per-layer tasks, selection fan-in) against a real broker, with results
 * arriving out of order and twice, and one more after the fan-in completed, which must change nothing; the cherries
 * against a naive merge of whole partials and the one-process pipeline, bit for bit; and what each layer task read.
 */
class SelectorStageTest {

    @TempDir
    Path directory;

    @Test
    void shouldSelectTheSameCherriesWhateverTheArrivalOrderAndDuplicates() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            var host = harness.start("selector", SelectorMain.verticles());
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
                    results.add(ScoreResult.newBuilder().setJobId("job-select").setRequest(request).setData(data)
                            .setShard(shard).setShardCount(4)
                            .addAllLayerPartials(storeByLayer(store, "job-select", shard, partial)).build());
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
            // 6 score results, 4 layer tasks, 4 select results
            String completed = "cherryq_tasks_completed_total{stage=\"selector\"} 14.0";
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

            // no layer task read more than its layer's share: a quarter of all the partials' bytes
            long total = 0;
            for (ScoreResult result : results) {
                for (LayerPartial layer : result.getLayerPartialsList()) {
                    total += layer.getPartial().getByteLength();
                }
            }
            List<JobEvent> events = harness.readAll(Topics.JOB_EVENTS, JobEvent.parser());
            List<Long> read = events.stream().filter(e -> e.getStage() == Stage.STAGE_SELECTOR && e.hasTiming())
                    .map(e -> e.getTiming().getBytesRead()).toList();
            assertEquals(4, read.size(), "one progress event per layer task: " + read);
            for (long bytes : read) {
                assertTrue(bytes * 4 <= total, bytes + " of " + total + " bytes");
            }
            assertEquals(total, read.stream().mapToLong(Long::longValue).sum(), "every partial read once");
        }
    }

    @Test
    void shouldSelectGroupAwareCherriesAsTheOneProcessPipelineDoes() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("selector", SelectorMain.verticles());
            QuantizationRequest request = StageFixtures.request("job-aware").toBuilder()
                    .setCriterion(Criterion.CRITERION_GROUP_AWARE).setCalibrationShards(1).build();
            PreparedData data = StageFixtures.prepare(harness, "job-aware");
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            CalibrationSamples samples = new CalibrationSamples(StageFixtures.tokens(harness,
                    data.getCalibrationTokens()), 8, StageFixtures.SEQ_LEN, request.getSeed());
            QuantizationRecipe recipe = RequestSettings.recipe(request);
            CherrySet expected;
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                // the one-process job: every sample scored in one call, selected on the whole model
                FisherPartial all = CherryqPipeline.score(model, samples, 0, 8, Progress.NONE);
                expected = CherryqPipeline.select(recipe, checkpoint.config(),
                        CherryqPipeline.selectionScores(recipe, model, all));
                harness.send(Topics.SCORE_RESULTS, "job-aware", ScoreResult.newBuilder().setJobId("job-aware")
                        .setRequest(request).setData(data).setShard(0).setShardCount(1)
                        .addAllLayerPartials(storeByLayer(store, "job-aware", 0, all)).build());
            }
            TrainTask first = harness.await(Topics.TRAIN_TASKS, TrainTask.parser(), t -> !t.isEmpty()).get(0);
            CherrySet actual = CherrySet.read(store.fetch(first.getCherries(), directory));
            assertEquals(SelectionCriterion.GROUP_AWARE, actual.criterion());
            assertEquals(List.copyOf(expected.layers().keySet()), List.copyOf(actual.layers().keySet()));
            expected.layers().forEach((name, layer) ->
                    assertArrayEquals(layer.columns(), actual.layers().get(name).columns(), name));
            assertEquals(expected.fingerprint(), actual.fingerprint());
        }
    }

    /** A shard's partial stored one layer (decoder block) per object, as the scorer stores it. */
    private List<LayerPartial> storeByLayer(ObjectStore store, String jobId, int shard, FisherPartial partial)
            throws Exception {
        List<LayerPartial> layers = new ArrayList<>();
        Map<Integer, List<String>> byLayer = new TreeMap<>();
        partial.sums().keySet().forEach(name -> byLayer.computeIfAbsent(LlamaTensorNames.layerOf(name),
                key -> new ArrayList<>()).add(name));
        for (List<String> names : byLayer.values()) {
            int group = layers.size();
            Path file = directory.resolve(jobId + "-" + shard + "-" + group + ".safetensors");
            partial.restrictTo(names).write(file);
            TensorRef ref = store.put("jobs/" + jobId + "/scorer/fisher-" + shard + "-group-" + group
                    + ".safetensors", file, ObjectStore.MEDIA_SAFETENSORS, "");
            layers.add(LayerPartial.newBuilder().setGroup(group).setPartial(ref).build());
        }
        return layers;
    }
}
