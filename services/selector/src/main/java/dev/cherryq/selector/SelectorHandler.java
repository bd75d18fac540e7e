package dev.cherryq.selector;

import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.scoring.HeterogeneityScore;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.ModelFolders;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.FanInLedger;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.LayerPartial;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.SelectTask;
import dev.cherryq.proto.v1.Stage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Selector stage, first step: the fan-in of a job's scoring shards (paper Sec. 3-4). Each {@link ScoreResult} is
 * recorded in the job's {@link FanInLedger} ({@code ledger/score-<shard>}); when every shard is there it reads no
 * partial: it sends one {@link SelectTask} per layer group, naming that group's partial of every shard in shard
 * order, spread over the select-tasks partitions, and moves the job to SELECTING. {@link LayerSelectHandler} merges
 * and selects each group on any selector worker, {@link SelectionFanInHandler} joins them. A result with
 * {@code shard_count} 0 comes from the planner for criteria that need no scores (magnitude, random): those select
 * on the whole model here, since random selection draws every layer from one seeded stream. Duplicates and any
 * arrival order give the same tasks; once the job's selection is complete, a late result is a no-op.
 */
public final class SelectorHandler implements StageHandler<ScoreResult> {

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
        if (result.getShardCount() == 0) {
            return selectWholeModel(request, result);
        }
        if (result.getShard() < 0 || result.getShard() >= result.getShardCount()) {
            throw new IntegrityException("score result shard " + result.getShard() + " of " + result.getShardCount());
        }
        ledger.record(jobId, Stage.STAGE_SELECTOR, String.format(Locale.ROOT, "score-%05d", result.getShard()),
                result);
        Map<Integer, ScoreResult> received = new TreeMap<>();
        for (ScoreResult entry : ledger.entries(jobId, Stage.STAGE_SELECTOR, "score-", ScoreResult.parser())) {
            received.put(entry.getShard(), entry);
        }
        if (received.size() < result.getShardCount()) {
            return TaskOutcome.of(List.of(), 0); // wait for the other shards
        }
        return TaskOutcome.of(selectTasks(request, result, new ArrayList<>(received.values())), 0);
    }

    /** One task per layer group, each with that group's partial of every shard in shard order; and SELECTING. */
    private static List<Outgoing> selectTasks(QuantizationRequest request, ScoreResult last, List<ScoreResult> shards) {
        String jobId = request.getJobId();
        int groups = shards.get(0).getLayerPartialsCount();
        for (ScoreResult shard : shards) {
            List<LayerPartial> partials = shard.getLayerPartialsList();
            if (partials.isEmpty() || partials.size() != groups) {
                throw new IntegrityException("score result of shard " + shard.getShard() + " has " + partials.size()
                        + " layer partials where shard 0 has " + groups + (partials.isEmpty() && shard.hasPartialFisher()
                        ? ": a whole-model partial from a scorer older than per-layer selection; rescore the job" : ""));
            }
            for (int group = 0; group < groups; group++) {
                if (partials.get(group).getGroup() != group) {
                    throw new IntegrityException("score result of shard " + shard.getShard() + " lists layer group "
                            + partials.get(group).getGroup() + " at position " + group);
                }
            }
        }
        List<Outgoing> out = new ArrayList<>();
        for (int group = 0; group < groups; group++) {
            SelectTask.Builder task = SelectTask.newBuilder().setJobId(jobId).setRequest(request)
                    .setData(last.getData()).setGroup(group).setGroupCount(groups);
            for (ScoreResult shard : shards) {
                task.addPartials(shard.getLayerPartials(group).getPartial());
            }
            out.add(Outgoing.spread(Topics.SELECT_TASKS, jobId + "/" + group, task.build(), jobId.hashCode() + group));
        }
        out.add(JobEvents.state(jobId, Stage.STAGE_SELECTOR, JobState.JOB_STATE_SELECTING, Stage.STAGE_SELECTOR, groups,
                String.format(Locale.ROOT, "%d layer groups of %d shards", groups, shards.size())));
        return out;
    }

    /** Magnitude and random selection: no partials; every layer at once, as one process selects. */
    private TaskOutcome selectWholeModel(QuantizationRequest request, ScoreResult trigger) throws Exception {
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        SelectionCriterion criterion = recipe.criterion();
        if (recipe.scores()) {
            throw new IntegrityException("a score result with no shards for " + criterion.cliName()
                    + " selection, which needs scores");
        }
        Map<String, float[]> scores;
        CherrySet cherries;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(ModelFolders.local(fleet, request.getModel()))) {
            if (criterion != SelectionCriterion.RANDOM) {
                try (LlamaModel model = LlamaModel.load(checkpoint)) { // magnitude ranks by the model's own weights
                    scores = CherryqPipeline.selectionScores(recipe, model, null);
                }
            } else {
                scores = CherryqPipeline.selectionScores(recipe, null, null);
            }
            cherries = CherryqPipeline.select(recipe, checkpoint.config(), scores);
        }
        Map<String, Double> heterogeneity = new LinkedHashMap<>();
        scores.forEach((name, score) -> heterogeneity.put(name,
                HeterogeneityScore.of(score, criterion == SelectionCriterion.MAGNITUDE)));
        return SelectionOutputs.finish(fleet, markers, request, trigger.getData(), cherries, heterogeneity);
    }
}
