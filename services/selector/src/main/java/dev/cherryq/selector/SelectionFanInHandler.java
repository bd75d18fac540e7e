package dev.cherryq.selector;

import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.FanInLedger;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.SelectResult;
import dev.cherryq.proto.v1.Stage;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Selector stage, last step: the fan-in of a job's per-layer selections. Each {@link SelectResult} is recorded in the
 * job's ledger ({@code jobs/<job>/selector/ledger/select-<group>}, the first one kept); when every layer group is in,
 * the groups' cherry sets (a few KiB each, never the Fisher partials) are read and joined in group order, which is
 * the model's layer order, into the job's cherry set, and the first training task goes out
 * ({@link SelectionOutputs}). Duplicates, any arrival order and late results give the same cherry set.
 */
public final class SelectionFanInHandler implements StageHandler<SelectResult> {

    private final FleetContext fleet;
    private final FanInLedger ledger;
    private final CompletionMarkers markers;

    public SelectionFanInHandler(FleetContext fleet) {
        this.fleet = fleet;
        this.ledger = new FanInLedger(fleet.store());
        this.markers = new CompletionMarkers(fleet.store());
    }

    @Override
    public StageBinding<SelectResult> binding() {
        return new StageBinding<>(Stage.STAGE_SELECTOR, Topics.SELECT_RESULTS, SelectResult.parser(),
                SelectResult::getJobId);
    }

    @Override
    public boolean usesCompute() {
        return false;
    }

    @Override
    public TaskOutcome handle(SelectResult result) throws Exception {
        String jobId = result.getJobId();
        if (result.getGroup() < 0 || result.getGroup() >= result.getGroupCount()) {
            throw new IntegrityException("select result group " + result.getGroup() + " of " + result.getGroupCount());
        }
        if (markers.isMarked(jobId, Stage.STAGE_SELECTOR)) {
            return TaskOutcome.duplicate(List.of()); // a late or replayed result: the training task is already out
        }
        ledger.record(jobId, Stage.STAGE_SELECTOR, String.format(Locale.ROOT, "select-%05d", result.getGroup()),
                result);
        Map<Integer, SelectResult> received = new TreeMap<>();
        for (SelectResult entry : ledger.entries(jobId, Stage.STAGE_SELECTOR, "select-", SelectResult.parser())) {
            received.put(entry.getGroup(), entry);
        }
        if (received.size() < result.getGroupCount()) {
            return TaskOutcome.of(List.of(), 0); // wait for the other layer groups
        }
        QuantizationRecipe recipe = RequestSettings.recipe(result.getRequest());
        Map<String, CherrySet.Layer> layers = new LinkedHashMap<>();
        Map<String, Double> heterogeneity = new LinkedHashMap<>();
        for (SelectResult entry : received.values()) { // group order: the model's layer order
            CherrySet group = CherrySet.read(fleet.store().fetch(entry.getCherries(), fleet.downloads()));
            layers.putAll(group.layers());
            heterogeneity.putAll(entry.getHeterogeneityMap());
        }
        CherrySet cherries = new CherrySet(recipe.criterion(), recipe.cherryFraction(), layers);
        return SelectionOutputs.finish(fleet, markers, result.getRequest(), result.getData(), cherries, heterogeneity);
    }
}
