package dev.cherryq.core.gptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.QuantizedMatrix;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.Tokenizer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** GPTQ over whole models: what it changes in place, and what it does to the loss compared with RTN. */
class GptqQuantizerTest {

    @Test
    void shouldReplaceLinearWeightsByLatentsThatRoundToGptqWhileCherriesStayFree() {
        DjlRuntime.ensureOffline();
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> original = RandomLlama.weights(config, 3);
        int[] tokens = new Random(4).ints(600, 0, config.vocabSize()).toArray();
        CalibrationSamples samples = new CalibrationSamples(tokens, 8, 32, 5);
        QuantSpec spec = new QuantSpec(3, 8, QuantScheme.SYM_FULL);
        CherrySet cherries = randomCherries(config, 1, 6);
        AtomicLong lastProgress = new AtomicLong();
        Map<String, float[]> latents = new LinkedHashMap<>();
        GptqQuantizer.Result result;
        double originalNll;
        double rtnNll;
        double gptqNll;
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, original))) {
            DjlRuntime.prepareComputeThread();
            originalNll = meanNll(model, samples);
            setRtn(model, original, spec, cherries);
            rtnNll = meanNll(model, samples);
            setWeights(model, original);
            model.attachGradients(); // as after impact scoring: GPTQ must still compute and write without autograd
            result = GptqQuantizer.quantize(model, samples, spec, cherries, GptqSettings.DEFAULTS,
                    (done, total, detail) -> lastProgress.set(done * 1000 + total));
            for (String name : LlamaTensorNames.linearWeights(config)) {
                latents.put(name, model.parameters().get(name).toFloatArray());
            }
            assertArrayEquals(original.get(LlamaTensorNames.EMBED_TOKENS),
                    model.parameters().get(LlamaTensorNames.EMBED_TOKENS).toFloatArray(), "embeddings untouched");
            setRtn(model, latents, spec, cherries); // what the export makes of the latents
            gptqNll = meanNll(model, samples);
        }
        assertEquals(14 * 1000 + 14, lastProgress.get(), "progress reaches 14 of 14 weights");
        assertEquals(14, result.layers().size());
        assertEquals(samples.fingerprint(), result.calibrationFingerprint());
        assertEquals(8L * 32, result.calibrationTokens());
        long pinnedOffGrid = 0;
        for (String name : LlamaTensorNames.linearWeights(config)) {
            long[] shape = LlamaTensorNames.linearWeightShapes(config).get(name);
            int rows = (int) shape[0];
            int columns = (int) shape[1];
            float[] latent = latents.get(name);
            assertTrue(!java.util.Arrays.equals(original.get(name), latent), name + " changed");
            boolean[] mask = cherries.layers().get(name).mask();
            QuantizedMatrix rounded = GroupQuantizer.quantize(latent, rows, columns, spec, mask);
            float[] levels = rounded.dequantize();
            for (int i = 0; i < latent.length; i++) {
                if (mask[i]) {
                    // cherries are never rounded: off the grid, and compensated unless nothing is swept before them
                    assertNotEquals(levels[i], latent[i], name + " cherry " + i + " is on a level");
                    if (i % columns == 0) {
                        assertEquals(original.get(name)[i], latent[i], 0f, name + " cherry in the first column");
                    } else {
                        assertNotEquals(original.get(name)[i], latent[i], name + " cherry " + i + " not compensated");
                    }
                } else if (levels[i] != latent[i]) {
                    pinnedOffGrid++; // sym-full: only the pinned absmax of each group is not a level itself
                }
            }
        }
        assertEquals(result.pinnedPositions(), pinnedOffGrid, "off-grid normal weights are exactly the pinned ones");
        assertEquals(cherries.totalCherries(), result.cherries());
        assertTrue(result.totalGptqError() < result.totalRtnError(),
                "GPTQ " + result.totalGptqError() + " vs RTN " + result.totalRtnError());
        System.out.printf("random tiny model, %s: mean NLL original %.4f, RTN %.4f, GPTQ %.4f; weighted error RTN %.4g, "
                + "GPTQ %.4g; %d pinned; %.2f s%n", spec, originalNll, rtnNll, gptqNll, result.totalRtnError(),
                result.totalGptqError(), result.pinnedPositions(), result.seconds());
    }

    @Test
    void shouldLoseLessThanRtnOnStories260kWithRealText() {
        Tokenizer tokenizer = Tokenizer.load(TestFixtures.tok512());
        CalibrationSamples calibration = new CalibrationSamples(
                firstDocuments("data/tinystories/tinystories_train_sample.txt", tokenizer), 16, 128, 1);
        CalibrationSamples heldOut = new CalibrationSamples(
                firstDocuments("data/tinystories/tinystories_val_sample.txt", tokenizer), 8, 128, 2);
        for (QuantSpec spec : new QuantSpec[] {new QuantSpec(3, 32, QuantScheme.SYM_FULL),
                new QuantSpec(2, 32, QuantScheme.ASYM)}) {
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(TestFixtures.stories260k());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                DjlRuntime.prepareComputeThread();
                Map<String, float[]> original = new LinkedHashMap<>();
                for (String name : LlamaTensorNames.linearWeights(model.config())) {
                    original.put(name, model.parameters().get(name).toFloatArray());
                }
                double fullPrecision = meanNll(model, calibration);
                double fullPrecisionHeldOut = meanNll(model, heldOut);
                setRtn(model, original, spec, CherrySet.empty());
                double rtn = meanNll(model, calibration);
                double rtnHeldOut = meanNll(model, heldOut);
                setWeights(model, original);
                GptqQuantizer.Result result = GptqQuantizer.quantize(model, calibration, spec, CherrySet.empty(),
                        GptqSettings.DEFAULTS, Progress.NONE);
                Map<String, float[]> latents = new LinkedHashMap<>();
                original.keySet().forEach(name -> latents.put(name, model.parameters().get(name).toFloatArray()));
                setRtn(model, latents, spec, CherrySet.empty());
                double gptq = meanNll(model, calibration);
                double gptqHeldOut = meanNll(model, heldOut);
                System.out.printf("stories260K %s, 16x128 calibration tokens: mean NLL fp32 %.4f, RTN %.4f, GPTQ %.4f "
                        + "(held-out 8x128: %.4f, %.4f, %.4f); weighted error RTN %.4g, GPTQ %.4g; %.2f s%n", spec,
                        fullPrecision, rtn, gptq, fullPrecisionHeldOut, rtnHeldOut, gptqHeldOut, result.totalRtnError(),
                        result.totalGptqError(), result.seconds());
                assertTrue(gptq < rtn, spec + ": GPTQ " + gptq + " should lose less than RTN " + rtn);
            }
        }
    }

    @Test
    void shouldRefuseCherriesOfAnotherShapeNamingThem() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        String name = LlamaTensorNames.Projection.Q.tensorName(0);
        CherrySet wrong = new CherrySet(SelectionCriterion.IMPACT, 0.1,
                Map.of(name, new CherrySet.Layer(3, 5, 1, new int[] {0, 1, 2})));
        int[] tokens = new Random(4).ints(100, 0, config.vocabSize()).toArray();
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, RandomLlama.weights(config, 1)))) {
            InvalidInputException error = assertThrows(InvalidInputException.class, () -> GptqQuantizer.quantize(model,
                    new CalibrationSamples(tokens, 2, 16, 1), new QuantSpec(3, 8, QuantScheme.SYM_FULL), wrong,
                    GptqSettings.DEFAULTS, Progress.NONE));
            assertTrue(error.getMessage().startsWith("cherries: '" + name + "' is 3x5"), error.getMessage());
        }
    }

    /** The first 40 stories of a text file, joined by blank lines as GPTQ joins its corpus (some 10^4 tokens). */
    private static int[] firstDocuments(String relative, Tokenizer tokenizer) {
        List<String> documents = EvalCorpus.readDocuments(TestFixtures.shared(relative));
        return tokenizer.encode(String.join("\n\n", documents.subList(0, Math.min(40, documents.size()))));
    }

    /** {@code perRow} distinct random cherry columns in every row of every linear weight. */
    static CherrySet randomCherries(LlamaConfig config, int perRow, long seed) {
        Random random = new Random(seed);
        Map<String, CherrySet.Layer> layers = new LinkedHashMap<>();
        LlamaTensorNames.linearWeightShapes(config).forEach((name, shape) -> {
            int rows = (int) shape[0];
            int columns = (int) shape[1];
            int[] chosen = new int[rows * perRow];
            for (int r = 0; r < rows; r++) {
                int[] pick = random.ints(0, columns).distinct().limit(perRow).sorted().toArray();
                System.arraycopy(pick, 0, chosen, r * perRow, perRow);
            }
            layers.put(name, new CherrySet.Layer(rows, columns, perRow, chosen));
        });
        return new CherrySet(SelectionCriterion.IMPACT, (double) perRow / config.hiddenSize(), layers);
    }

    /** Mean next-token NLL (nats) over the samples, as the evaluator computes it. */
    static double meanNll(LlamaModel model, CalibrationSamples samples) {
        double total = 0;
        for (int i = 0; i < samples.count(); i++) {
            try (NDManager step = model.newStep()) {
                NDArray ids = model.tokenArray(step, samples.sample(i), 1, samples.length());
                total += model.nextTokenNll(step, ids).sum().getFloat();
            }
        }
        return total / ((double) samples.count() * (samples.length() - 1));
    }

    /** Sets every linear weight to the RTN dequantization of {@code weights} (cherries keep their values). */
    static void setRtn(LlamaModel model, Map<String, float[]> weights, QuantSpec spec, CherrySet cherries) {
        LlamaTensorNames.linearWeightShapes(model.config()).forEach((name, shape) -> {
            CherrySet.Layer layer = cherries.layers().get(name);
            boolean[] mask = layer == null ? null : layer.mask();
            float[] values = weights.get(name);
            float[] restored = GroupQuantizer.quantize(values, (int) shape[0], (int) shape[1], spec, mask).dequantize();
            for (int i = 0; mask != null && i < restored.length; i++) {
                if (mask[i]) {
                    restored[i] = values[i];
                }
            }
            model.parameters().get(name).set(restored);
        });
    }

    static void setWeights(LlamaModel model, Map<String, float[]> weights) {
        LlamaTensorNames.linearWeights(model.config()).forEach(name -> model.parameters().get(name).set(weights.get(name)));
    }
}
