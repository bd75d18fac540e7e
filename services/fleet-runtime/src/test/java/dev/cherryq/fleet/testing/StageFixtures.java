package dev.cherryq.fleet.testing;

import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.TokenTensors;
import dev.cherryq.proto.v1.Criterion;
import dev.cherryq.proto.v1.EvalSpec;
import dev.cherryq.proto.v1.Method;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QatHyperparameters;
import dev.cherryq.proto.v1.QuantScheme;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.Stage;
import java.nio.file.Files;
import java.nio.file.Path;

/** A small job on the committed demo model, its token data in the harness's store: inputs for stage tests. */
public final class StageFixtures {

    public static final int SEQ_LEN = 32;

    private StageFixtures() {}

    /** CherryQ 3-bit g32, 8 calibration samples in 2 shards, 4 QAT steps in segments of 2, eval shards of 4 windows. */
    public static QuantizationRequest request(String jobId) {
        return QuantizationRequest.newBuilder().setJobId(jobId)
                .setModel(ModelRef.newBuilder().setUri(FleetHarness.demoModel().toString()))
                .setMethod(Method.METHOD_CHERRYQ).setBits(3).setGroupSize(32).setScheme(QuantScheme.QUANT_SCHEME_SYM_FULL)
                .setCherryFraction(1.0 / 256).setCriterion(Criterion.CRITERION_IMPACT).setCalibrationSamples(8)
                .setCalibrationShards(2).setSeqLen(SEQ_LEN).setSeed(5)
                .setQat(QatHyperparameters.newBuilder().setSteps(4).setSegmentSteps(2).setBatchSize(2).setGradAccum(1)
                        .setLearningRate(1e-3f).setWarmupFraction(0.05).setGradientClip(1.0f))
                .setEval(EvalSpec.newBuilder().setWindowsPerShard(4).setBatchSize(4).addBaselines("fp"))
                .build();
    }

    /** Tokenizes sample texts with the demo tokenizer (as the planner does) and stores them under the job. */
    public static PreparedData prepare(FleetHarness harness, String jobId) throws Exception {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel())) {
            Tokenizer tokenizer = Tokenizer.load(checkpoint.bundledTokenizer().orElseThrow());
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            Path scratch = Files.createDirectories(harness.dataDirectory().resolve(jobId));
            PreparedData.Builder data = PreparedData.newBuilder().setVocabSize(checkpoint.config().vocabSize())
                    .setParameterCount(checkpoint.config().parameterCount())
                    .setLayers(checkpoint.config().numberOfLayers());
            data.setCalibrationTokens(TokenTensors.put(store, key(jobId, "calibration"),
                    tokens(tokenizer, scratch, "calibration.txt", 40, 1), scratch));
            data.setTrainTokens(TokenTensors.put(store, key(jobId, "train"), tokens(tokenizer, scratch, "train.txt", 40, 2),
                    scratch));
            data.setEvalTokens(TokenTensors.put(store, key(jobId, "eval"), tokens(tokenizer, scratch, "eval.txt", 12, 3),
                    scratch));
            return data.build();
        }
    }

    /** The tokens of a stored token tensor (read back from the store). */
    public static int[] tokens(FleetHarness harness, dev.cherryq.proto.v1.TensorRef ref) throws Exception {
        return TokenTensors.get(new FilesystemObjectStore(harness.config().storeDirectory()), ref,
                harness.dataDirectory());
    }

    private static int[] tokens(Tokenizer tokenizer, Path scratch, String name, int paragraphs, long seed)
            throws Exception {
        Path text = Files.writeString(scratch.resolve(name), FleetHarness.sampleText(paragraphs, seed));
        return EvalCorpus.tokenizeText(text, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
    }

    private static String key(String jobId, String name) {
        return ObjectKeys.of(jobId, Stage.STAGE_PLANNER, name + "-tokens.i32");
    }
}
