package dev.cherryq.selector;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.scoring.HeterogeneityScore;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.ModelFolders;
import dev.cherryq.fleet.job.JobPlan;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.FanInLedger;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Selector stage: the fan-in of a job's Fisher partials (paper Sec. 3-4). Each result is recorded in the job's
 * {@link FanInLedger}; when every shard is there, the partials are read (sha256-checked) and merged in shard order,
 * the cherries selected per row ({@code CherrySelector}), and the cherry set and heterogeneity report written.
 * Then the first QAT segment is emitted. A result with {@code shard_count} 0 comes from the planner for criteria
 * that need no scoring (magnitude, random). Duplicates and any arrival order give the same cherry set.
 */
public final class SelectorHandler implements StageHandler<ScoreResult> {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final FleetContext fleet;
    private final FanInLedger ledger;
    private final CompletionMarkers markers;

    public SelectorHandler(FleetContext fleet) {
        this.fleet = fleet;
        this.ledger = new FanInLedger(fleet.store());
        this.markers = new CompletionMarkers(fleet.store());
    }

    @Override
    public StageBinding<ScoreResult> binding() {
        return new StageBinding<>(Stage.STAGE_SELECTOR, Topics.SCORE_RESULTS, ScoreResult.parser(),
                ScoreResult::getJobId);
    }

    @Override
    public TaskOutcome handle(ScoreResult result) throws Exception {
        String jobId = result.getJobId();
        QuantizationRequest request = result.getRequest();
        if (markers.isMarked(jobId, Stage.STAGE_SELECTOR)) {
            return TaskOutcome.duplicate(List.of()); // a late or replayed result: the training task is already out
        }
        Map<Integer, ScoreResult> received = new TreeMap<>();
        if (result.getShardCount() > 0) {
            if (result.getShard() < 0 || result.getShard() >= result.getShardCount()) {
                throw new IntegrityException("score result shard " + result.getShard() + " of " + result.getShardCount());
            }
            ledger.record(jobId, Stage.STAGE_SELECTOR, String.format(Locale.ROOT, "score-%05d", result.getShard()),
                    result);
            for (ScoreResult entry : ledger.entries(jobId, Stage.STAGE_SELECTOR, ScoreResult.parser())) {
                received.put(entry.getShard(), entry);
            }
            if (received.size() < result.getShardCount()) {
                return TaskOutcome.of(List.of(), 0); // wait for the other shards
            }
        }
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        SelectionCriterion criterion = recipe.criterion();
        FisherPartial fisher = recipe.scores() ? mergedImpacts(received, request) : null;
        Map<String, float[]> scores;
        CherrySet cherries;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, request.getModel()))) {
            if (criterion != SelectionCriterion.IMPACT && criterion != SelectionCriterion.RANDOM) {
                try (LlamaModel model = LlamaModel.load(checkpoint)) { // these rank by the model's own weights
                    scores = CherryqPipeline.selectionScores(recipe, model, fisher);
                }
            } else {
                scores = CherryqPipeline.selectionScores(recipe, null, fisher);
            }
            cherries = CherryqPipeline.select(recipe, checkpoint.config(), scores);
        }
        Path scratch = Files.createDirectories(fleet.scratch(jobId, "selector"));
        Path file = scratch.resolve("cherries.safetensors");
        TensorRef cherriesRef;
        try {
            cherries.write(file);
            cherriesRef = fleet.store().put(ObjectKeys.of(jobId, Stage.STAGE_SELECTOR, "cherries.safetensors"), file,
                    ObjectStore.MEDIA_SAFETENSORS, "");
        } finally {
            Files.deleteIfExists(file);
        }
        TensorRef reportRef = fleet.store().putBytes(ObjectKeys.of(jobId, Stage.STAGE_SELECTOR, "heterogeneity.json"),
                report(criterion, scores, cherries), ObjectStore.MEDIA_JSON);
        JobPlan plan = new JobPlan(request, result.getData());
        List<Outgoing> out = new ArrayList<>(plan.trainingStart(cherriesRef, reportRef));
        out.add(JobEvents.state(jobId, Stage.STAGE_SELECTOR, JobState.JOB_STATE_TRAINING, Stage.STAGE_TRAINER,
                plan.trainerTasks(),
                String.format(Locale.ROOT, "%,d cherries (%s)", cherries.totalCherries(), criterion.cliName())));
        return TaskOutcome.of(out, 0)
                .thenAfterPublish(() -> markers.mark(jobId, Stage.STAGE_SELECTOR, "training task emitted"));
    }

    /** The partials merged in shard order; all calibration samples must be covered exactly once. */
    private FisherPartial mergedImpacts(Map<Integer, ScoreResult> received, QuantizationRequest request)
            throws Exception {
        FisherPartial merged = null;
        for (ScoreResult entry : received.values()) {
            Path local = fleet.store().fetch(entry.getPartialFisher(), fleet.downloads());
            FisherPartial partial = FisherPartial.read(local);
            merged = merged == null ? partial : merged.merge(partial);
        }
        if (merged == null || merged.sampleCount() != request.getCalibrationSamples()) {
            throw new IntegrityException("the merged Fisher partials cover " + (merged == null ? 0 : merged.sampleCount())
                    + " samples, not the request's " + request.getCalibrationSamples());
        }
        return merged;
    }

    /** Per layer: the heterogeneity score of its selection scores and its cherries per row. */
    private static byte[] report(SelectionCriterion criterion, Map<String, float[]> scores, CherrySet cherries)
            throws Exception {
        ObjectNode root = JSON.createObjectNode();
        root.put("criterion", criterion.cliName()).put("cherries", cherries.totalCherries());
        ArrayNode layers = root.putArray("layers");
        cherries.layers().forEach((name, layer) -> {
            ObjectNode entry = layers.addObject().put("name", name).put("rows", layer.rows())
                    .put("columns", layer.columnsInMatrix()).put("cherries_per_row", layer.perRow());
            float[] score = scores.get(name);
            if (score != null) {
                double heterogeneity = HeterogeneityScore.of(score, criterion == SelectionCriterion.MAGNITUDE);
                entry.put("heterogeneity", Double.isFinite(heterogeneity) ? heterogeneity : -1);
            }
        });
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
    }
}
