package dev.cherryq.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.qat.QatSettings;
import dev.cherryq.core.qat.QatTrainer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.ImpactScorer;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.train.Pretrainer;
import dev.cherryq.fleet.job.Folders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * In-process measurements on DJL: the fp32 matmul ceiling of this machine, and each compute stage's steady-state
 * throughput on a model (scoring, a CherryQ QAT step, a plain full-precision training step on the same batch,
 * evaluation). Steady state: the time from the first progress report to the last, over the units between them, so
 * engine warm-up and one-time set-up are left out. Token ids are random (throughput does not depend on them).
 */
final class KernelBench {

    private KernelBench() {}

    /** Model FLOPs per token: 2 x the parameters of every matmul (linear layers and lm_head); attention scores excluded. */
    static long matmulParameters(LlamaConfig config) {
        long n = (long) config.hiddenSize() * config.vocabSize(); // lm_head
        for (long[] shape : LlamaTensorNames.linearWeightShapes(config).values()) {
            n += shape[0] * shape[1];
        }
        return n;
    }

    /** GFLOP/s of C[m,n] = A[m,k] B[k,n] in fp32, repeated for at least {@code seconds} after a warm-up. */
    static double matmulGflops(int m, int k, int n, double seconds) {
        try (NDManager manager = DjlRuntime.newManager()) {
            DjlRuntime.prepareComputeThread();
            NDArray a = manager.randomUniform(-1f, 1f, new Shape(m, k));
            NDArray b = manager.randomUniform(-1f, 1f, new Shape(k, n));
            for (int i = 0; i < 3; i++) {
                a.matMul(b).close();
            }
            long started = System.nanoTime();
            long reps = 0;
            while (System.nanoTime() - started < seconds * 1e9 || reps < 3) {
                a.matMul(b).close(); // PyTorch CPU ops are synchronous: the product exists when this returns
                reps++;
            }
            double elapsed = (System.nanoTime() - started) / 1e9;
            return 2.0 * m * k * n * reps / elapsed / 1e9;
        }
    }

    /** Records the time of every progress report; steady-state seconds per unit between the first and the last. */
    static final class Clock implements Progress {
        private long first = -1;
        private long last = -1;
        private long firstDone;
        private long lastDone;

        @Override
        public void update(long done, long total, String detail) {
            long now = System.nanoTime();
            if (first < 0) {
                first = now;
                firstDone = done;
            }
            last = now;
            lastDone = done;
        }

        double secondsPerUnit() {
            if (lastDone <= firstDone) {
                throw new IllegalStateException("need at least two progress reports to time a steady state");
            }
            return (last - first) / 1e9 / (lastDone - firstDone);
        }
    }

    /** Steady-state throughput of each compute stage on one model, in tokens per second. */
    record StageRates(double scoreTokensPerSecond, double qatTokensPerSecond, double fpTrainTokensPerSecond,
            double evalTokensPerSecond) {}

    static StageRates stageRates(Path modelPath, int sequenceLength, int batchSize, int steps, int samples)
            throws IOException {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelPath)) {
            LlamaConfig config = checkpoint.config();
            int[] tokens = randomTokens(config.vocabSize(), 64 * sequenceLength, 7);
            double score;
            try (LlamaModel model = LlamaModel.load(checkpoint)) {
                Clock clock = new Clock();
                ImpactScorer.score(model, new CalibrationSamples(tokens, samples, sequenceLength, 1), 0, samples, clock);
                score = sequenceLength / clock.secondsPerUnit(); // progress in samples
            }
            double qat;
            Path scratch = Files.createTempDirectory("cherryq-bench-qat-");
            try (LlamaModel model = LlamaModel.load(checkpoint)) {
                Map<String, float[]> weights = new LinkedHashMap<>();
                Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(config);
                for (String name : shapes.keySet()) {
                    weights.put(name, model.parameters().get(name).toFloatArray());
                }
                CherrySet cherries = CherrySelector.select(SelectionCriterion.MAGNITUDE, dev.cherryq.core.recipe.QuantizationRecipe.DEFAULTS.cherryFraction(),
                        weights, shapes, 0);
                QatSettings settings = new QatSettings(steps, batchSize, sequenceLength, 1, 1e-4f, 0.05, 0.25, 0f, 1f,
                        3, 0);
                Clock clock = new Clock();
                QatTrainer.train(model, new QuantSpec(3, 32, QuantScheme.parse("sym-full")), cherries, tokens, settings,
                        scratch, clock);
                qat = (double) batchSize * sequenceLength / clock.secondsPerUnit(); // progress in steps
            } finally {
                Folders.deleteRecursively(scratch);
            }
            double fp;
            try (LlamaModel model = LlamaModel.load(checkpoint)) {
                Clock clock = new Clock();
                Pretrainer.train(model, tokens, new Pretrainer.Settings(steps, batchSize, sequenceLength, 1e-4f, 0.05, 0.25,
                        0f, 1f, 3), clock);
                fp = (double) batchSize * sequenceLength / clock.secondsPerUnit();
            }
            double eval;
            try (LlamaModel model = LlamaModel.load(checkpoint)) {
                Clock clock = new Clock();
                new PerplexityEvaluator(model, batchSize).evaluate(new TokenWindows(tokens, sequenceLength), clock);
                eval = sequenceLength / clock.secondsPerUnit(); // the evaluator reports progress in windows
            }
            return new StageRates(score, qat, fp, eval);
        }
    }

    private static int[] randomTokens(int vocabSize, int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = 3 + random.nextInt(vocabSize - 3);
        }
        return tokens;
    }
}
