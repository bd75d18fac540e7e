package dev.cherryq.evaluator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.util.JsonFormat;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.job.EvalSharding;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.job.ResultsTable;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.FanInLedger;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.proto.v1.EvalResult;
import dev.cherryq.proto.v1.JobResult;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.VariantResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Evaluator stage, second half: the fan-in of a job's eval results. Each is recorded in the job's ledger; when all
 * variants x shards are in, NLL sums and token counts add up per variant (mean NLL = sum / tokens, the same number
 * one {@code cherryq eval} over all windows gives), the report is written to {@code jobs/<job>/evaluator/report.json},
 * and the job completes.
 */
public final class EvalFanInHandler implements StageHandler<EvalResult> {

    /** The fan-in consumes eval results in its own group, separate from the evaluation workers. */
    static final TopicSpec INPUT = Topics.EVAL_RESULTS;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FleetContext fleet;
    private final FanInLedger ledger;
    private final CompletionMarkers markers;

    public EvalFanInHandler(FleetContext fleet) {
        this.fleet = fleet;
        this.ledger = new FanInLedger(fleet.store());
        this.markers = new CompletionMarkers(fleet.store());
    }

    @Override
    public StageBinding<EvalResult> binding() {
        return new StageBinding<>(Stage.STAGE_EVALUATOR, INPUT, EvalResult.parser(),
                EvalResult::getJobId);
    }

    @Override
    public boolean usesCompute() {
        return false;
    }

    @Override
    public TaskOutcome handle(EvalResult result) throws Exception {
        String jobId = result.getJobId();
        if (!result.getVariant().matches("[a-z]{2,16}") || result.getShard() < 0
                || result.getShard() >= result.getShardCount()) {
            throw new IntegrityException("eval result for variant '" + result.getVariant() + "' shard "
                    + result.getShard() + " of " + result.getShardCount() + " is malformed");
        }
        if (markers.isMarked(jobId, Stage.STAGE_EVALUATOR)) {
            return TaskOutcome.duplicate(List.of()); // a late or replayed result: the job has completed
        }
        ledger.record(jobId, Stage.STAGE_EVALUATOR, String.format(Locale.ROOT, "nll-%s-%05d", result.getVariant(),
                result.getShard()), result);
        List<EvalResult> entries = ledger.entries(jobId, Stage.STAGE_EVALUATOR, EvalResult.parser());
        if (entries.size() < result.getExpectedResults()) {
            return TaskOutcome.of(List.of(), 0);
        }
        QuantizationRequest request = result.getRequest();
        Map<String, double[]> sums = new LinkedHashMap<>(); // variant -> (nll sum, tokens, effective bits)
        for (String variant : EvalSharding.variants(request)) {
            sums.put(variant, new double[3]);
        }
        QuantizedModelSummary quantized = null;
        for (EvalResult entry : entries) { // sorted by variant and shard: a fixed summation order
            double[] sum = sums.get(entry.getVariant());
            if (sum == null) {
                throw new IntegrityException("eval result of unexpected variant '" + entry.getVariant() + "'");
            }
            sum[0] += entry.getNllSum();
            sum[1] += entry.getPredictedTokens();
            sum[2] = entry.getQuantized().getEffectiveBits();
            if (entry.hasQuantized() && entry.getQuantized().hasModel()) {
                quantized = entry.getQuantized();
            }
        }
        JobResult.Builder jobResult = JobResult.newBuilder();
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        for (Map.Entry<String, double[]> entry : sums.entrySet()) {
            double meanNll = entry.getValue()[0] / entry.getValue()[1];
            String variant = entry.getKey();
            String format = variant.equals("fp") ? "full precision (f32 compute)"
                    : variant.equals(recipe.method().wireName()) ? recipe.describe() : recipe.formatName();
            jobResult.addVariants(VariantResult.newBuilder().setVariant(variant).setFormat(format)
                    .setMeanNll(meanNll).setPerplexity(Math.exp(meanNll)).setPredictedTokens((long) entry.getValue()[1])
                    .setEffectiveBits(entry.getValue()[2]));
        }
        if (quantized != null) {
            jobResult.setQuantized(quantized);
        }
        TensorRef report = fleet.store().putBytes(ObjectKeys.of(jobId, Stage.STAGE_EVALUATOR, "report.json"),
                report(request, jobResult.build()), ObjectStore.MEDIA_JSON);
        jobResult.setReport(report);
        return TaskOutcome.of(List.of(JobEvents.completed(jobId, Stage.STAGE_EVALUATOR, jobResult.build())), 0)
                .thenAfterPublish(() -> markers.mark(jobId, Stage.STAGE_EVALUATOR, "job completed"));
    }

    private static byte[] report(QuantizationRequest request, JobResult result) throws Exception {
        ObjectNode root = JSON.createObjectNode();
        root.put("job_id", request.getJobId());
        root.set("request", JSON.readTree(JsonFormat.printer().preservingProtoFieldNames().print(request)));
        ArrayNode rows = root.putArray("results").addAll(ResultsTable.rows(request, result));
        root.put("table_markdown", ResultsTable.markdown(rows));
        if (result.hasQuantized()) {
            root.put("effective_bits", result.getQuantized().getEffectiveBits());
            root.put("cherries", result.getQuantized().getCherries());
            ArrayNode losses = root.putArray("qat_losses");
            result.getQuantized().getLossesList().forEach(losses::add);
            root.put("model_uri", result.getQuantized().getModel().getUri());
        }
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
    }
}
