package dev.cherryq.planner;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.recipe.ExportTarget;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.job.EvalSharding;
import dev.cherryq.fleet.job.JobPlan;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.CompletionMarkers;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.TokenTensors;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.Stage;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The planner: validates a request once (ranges, references inside the allowed roots, a LLaMA model with a
 * tokenizer, non-empty data), tokenizes its texts once with the model's tokenizer exactly as {@code cherryq quantize}
 * and {@code cherryq eval} do (documents joined GPTQ-style), stores the token ids, and publishes the job's
 * {@link JobPlan}: scoring shards (or the selection trigger, or the first trainer task) and the baseline evaluation
 * tasks. This class does the I/O; the plan decides. An invalid request fails its job with the reason (and is
 * dead-lettered); nothing outside the roots is read. A job is planned once: its completion marker, written after the
 * plan is published, turns a replayed or re-submitted request into a no-op.
 */
public final class PlannerHandler implements StageHandler<QuantizationRequest> {

    private final FleetContext fleet;
    private final TokenizedTexts tokenizedTexts = new TokenizedTexts();
    private final CompletionMarkers markers;

    public PlannerHandler(FleetContext fleet) {
        this.fleet = fleet;
        this.markers = new CompletionMarkers(fleet.store());
    }

    @Override
    public StageBinding<QuantizationRequest> binding() {
        return new StageBinding<>(Stage.STAGE_PLANNER, Topics.REQUESTS, QuantizationRequest.parser(),
                QuantizationRequest::getJobId);
    }

    @Override
    public boolean usesCompute() {
        return false;
    }

    @Override
    public boolean deadLettersFailures() {
        return true; // a request event that cannot be planned stays inspectable, with its reason, beside its FAILED event
    }

    @Override
    public TaskOutcome handle(QuantizationRequest submitted) throws Exception {
        String jobId = submitted.getJobId();
        if (markers.isMarked(jobId, Stage.STAGE_PLANNER)) {
            return TaskOutcome.duplicate(List.of()); // the same request again (a replay, a second gateway): planned
        }
        // every rule the gateway applies, before anything is read: a request event may not have passed a gateway
        RequestSettings.validate(submitted, fleet.config().jobLimits());
        Path modelPath = fleet.resolver().model(submitted.getModel().getUri());
        QuantizationRequest request;
        Tokenizer tokenizer;
        Path tokenizerFile;
        long parameters;
        int vocabulary;
        int layers;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelPath)) {
            int maxPositions = checkpoint.config().maxPositionEmbeddings();
            // seq_len 0 = the recipe's default for this model
            request = submitted.toBuilder().setSeqLen(RequestSettings.recipe(submitted)
                    .sequenceLength(checkpoint.config())).build();
            if (request.getSeqLen() > maxPositions) {
                throw new InvalidInputException("seq_len " + request.getSeqLen() + " exceeds the model's "
                        + "max_position_embeddings " + maxPositions);
            }
            tokenizerFile = checkpoint.bundledTokenizer().orElseThrow(() ->
                    new InvalidInputException("model '" + submitted.getModel().getUri() + "' has no tokenizer "
                            + "(tokenizer.json or tokenizer.bin in its folder)"));
            tokenizer = Tokenizer.load(tokenizerFile);
            parameters = checkpoint.config().parameterCount();
            vocabulary = checkpoint.config().vocabSize();
            layers = checkpoint.config().numberOfLayers();
            if (!request.getExport().isBlank()) { // the format holds this model and grid, before any compute
                ExportTarget.parse("export", request.getExport()).requireHolds("export", checkpoint.config(),
                        RequestSettings.recipe(request).quantSpec());
            }
        }
        Path scratch = fleet.scratch(jobId, "planner");
        PreparedData.Builder data = PreparedData.newBuilder().setVocabSize(vocabulary).setParameterCount(parameters)
                .setLayers(layers);
        int[] eval = tokens("eval_data", request.getEval().getDataUri(), tokenizer, tokenizerFile, vocabulary);
        if (eval.length < request.getSeqLen()) {
            throw new InvalidInputException("eval_data has " + eval.length + " tokens, fewer than one window of seq_len "
                    + request.getSeqLen());
        }
        RequestSettings.checkTasks(request, EvalSharding.expectedResults(eval.length, request),
                fleet.config().jobLimits());
        data.setEvalTokens(TokenTensors.put(fleet.store(), key(jobId, "eval"), eval, scratch));
        QuantizationRecipe recipe = RequestSettings.recipe(request);
        if (recipe.needsCalibration()) {
            int[] calibration = tokens("calibration_data", request.getCalibrationDataUri(), tokenizer, tokenizerFile,
                    vocabulary);
            if (calibration.length < request.getSeqLen()) {
                throw new InvalidInputException("calibration_data has " + calibration.length + " tokens, fewer than one "
                        + "sample of seq_len " + request.getSeqLen());
            }
            data.setCalibrationTokens(TokenTensors.put(fleet.store(), key(jobId, "calibration"), calibration, scratch));
        }
        // calibration and training may share one text: tokenized and stored once
        boolean sameText = recipe.needsCalibration()
                && request.getTrainDataUri().equals(request.getCalibrationDataUri());
        if (recipe.method().trains() && sameText) {
            data.setTrainTokens(data.getCalibrationTokens());
        } else if (recipe.method().trains()) {
            int[] train = tokens("train_data", request.getTrainDataUri(), tokenizer, tokenizerFile, vocabulary);
            if (train.length < request.getSeqLen()) {
                throw new InvalidInputException("train_data has " + train.length + " tokens, fewer than one window of "
                        + "seq_len " + request.getSeqLen());
            }
            data.setTrainTokens(TokenTensors.put(fleet.store(), key(jobId, "train"), train, scratch));
        }
        // the decisions are the plan's; publishing them and the marker after them are this handler's
        List<Outgoing> out = new JobPlan(request, data.build()).messages();
        return TaskOutcome.of(out, 0).thenAfterPublish(() -> markers.mark(jobId, Stage.STAGE_PLANNER, "planned"));
    }

    private int[] tokens(String field, String reference, Tokenizer tokenizer, Path tokenizerFile, int vocabulary)
            throws Exception {
        Path text = fleet.resolver().data(reference);
        if (!java.nio.file.Files.isRegularFile(text)) {
            throw new InvalidInputException(field + " '" + reference + "' is not a file");
        }
        long bytes = java.nio.file.Files.size(text);
        if (bytes > fleet.config().jobLimits().maxInputBytes()) {
            throw new InvalidInputException(String.format(Locale.ROOT, "%s '%s' has %,d bytes, above the fleet's "
                    + "limit of %,d per input text", field, reference, bytes, fleet.config().jobLimits().maxInputBytes()));
        }
        int[] ids = tokenizedTexts.get(text, tokenizerFile,
                () -> EvalCorpus.tokenizeText(text, tokenizer, EvalCorpus.DocumentJoin.GPTQ));
        PerplexityEvaluator.checkVocabulary(ids, vocabulary);
        return ids;
    }

    private static String key(String jobId, String name) {
        return ObjectKeys.of(jobId, Stage.STAGE_PLANNER, name + "-tokens.i32");
    }
}
