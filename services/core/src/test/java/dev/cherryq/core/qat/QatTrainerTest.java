package dev.cherryq.core.qat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QatTrainerTest {

    private static final LlamaConfig CONFIG = RandomLlama.tinyConfig(false);
    private static final QuantSpec SPEC = new QuantSpec(3, 8, QuantScheme.SYM_FULL);
    private static final int[] TOKENS = new Random(6).ints(2000, 0, CONFIG.vocabSize()).toArray();

    @TempDir
    Path dir;

    private static LlamaModel freshModel() {
        return LlamaModel.fromTensors(CONFIG, RandomLlama.tensors(CONFIG, RandomLlama.weights(CONFIG, 6)));
    }

    private static CherrySet cherries(long seed) {
        return CherrySelector.select(SelectionCriterion.RANDOM, 0.1, Map.of(), LlamaTensorNames.linearWeightShapes(CONFIG),
                seed);
    }

    private static QatSettings settings(int steps, long seed) {
        return new QatSettings(steps, 2, 16, 2, 1e-3f, 0.05, 0.25, 0f, 1.0f, seed, 3);
    }

    private static Map<String, float[]> snapshot(LlamaModel model) {
        Map<String, float[]> values = new LinkedHashMap<>();
        model.parameters().forEach((name, value) -> values.put(name, value.toFloatArray()));
        return values;
    }

    @Test
    void shouldResumeFromACheckpointToTheSameWeightsAsAnUninterruptedRun() {
        CherrySet cherries = cherries(1);
        Map<String, float[]> uninterrupted;
        List<Float> uninterruptedLosses;
        try (LlamaModel model = freshModel()) {
            uninterruptedLosses = QatTrainer.train(model, SPEC, cherries, TOKENS, settings(6, 2), dir.resolve("a"),
                    Progress.NONE).losses();
            uninterrupted = snapshot(model);
        }
        // the same run killed during step 4, after the checkpoint at step 3
        Path checkpoints = dir.resolve("b");
        try (LlamaModel model = freshModel()) {
            Progress crashAtStep4 = (done, total, detail) -> {
                if (done == 4) {
                    throw new IllegalStateException("simulated crash");
                }
            };
            assertThrows(IllegalStateException.class,
                    () -> QatTrainer.train(model, SPEC, cherries, TOKENS, settings(6, 2), checkpoints, crashAtStep4));
        }
        try (LlamaModel model = freshModel()) {
            QatTrainer.Result resumed = QatTrainer.train(model, SPEC, cherries, TOKENS, settings(6, 2), checkpoints,
                    Progress.NONE);
            assertEquals(3, resumed.startedAtStep());
            assertEquals(uninterruptedLosses, resumed.losses());
            Map<String, float[]> after = snapshot(model);
            uninterrupted.forEach((name, values) -> assertArrayEquals(values, after.get(name), 0f, name));
        }
    }

    @Test
    void shouldTrainInSegmentsOnAFreshThreadToTheSameWeightsAsOneRun() throws Exception {
        CherrySet cherries = cherries(1);
        Map<String, float[]> uninterrupted;
        try (LlamaModel model = freshModel()) {
            QatTrainer.train(model, SPEC, cherries, TOKENS, settings(4, 0), null, Progress.NONE);
            uninterrupted = snapshot(model);
        }
        // a fleet trainer: each segment in a new model, from the last checkpoint, on a thread other than the one
        // that loaded the engine (PyTorch's grad mode is per thread and on by default)
        Path checkpoints = dir.resolve("segments");
        java.util.concurrent.atomic.AtomicReference<Map<String, float[]>> segmented =
                new java.util.concurrent.atomic.AtomicReference<>();
        Throwable[] failure = new Throwable[1];
        Thread worker = new Thread(() -> {
            try {
                for (int until : new int[] {2, 4}) {
                    try (LlamaModel model = freshModel()) {
                        QatTrainer.train(model, SPEC, cherries, TOKENS, settings(4, 0), checkpoints, until,
                                Progress.NONE);
                        segmented.set(snapshot(model));
                    }
                }
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        worker.start();
        worker.join();
        if (failure[0] != null) {
            throw new AssertionError("training on a fresh thread failed", failure[0]);
        }
        // the same batches, schedule and optimizer state on one PyTorch thread: bit for bit the same weights
        uninterrupted.forEach((name, values) -> assertArrayEquals(values, segmented.get().get(name), 0f, name));
    }

    /** Validation windows from held-out random text: the model cannot learn them, so later steps rarely help. */
    private static QatTrainer.Validation validation(int every) {
        int[] heldOut = new Random(99).ints(8 * 16, 0, CONFIG.vocabSize()).toArray();
        return new QatTrainer.Validation(new TokenWindows(heldOut, 16), every, 4);
    }

    private static double validationNll(LlamaModel model, QatTrainer.Validation validation) {
        // the model's own forward without fake quantization is not what was scored: score it as the trainer does
        return QatTrainer.scoreQuantized(model, SPEC, cherries(1), validation);
    }

    @Test
    void shouldReturnItsStartWhenNoStepImprovesOnValidation() {
        CherrySet cherries = cherries(1);
        QatTrainer.Validation validation = validation(2);
        // a rate a thousand times too high: every step makes the held-out score worse than the start
        QatSettings diverging = new QatSettings(6, 2, 16, 1, 1.0f, 0.0, 1.0, 0f, 100f, 2, 0);
        try (LlamaModel model = freshModel()) {
            Map<String, float[]> start = snapshot(model);
            double startNll = validationNll(model, validation);
            QatTrainer.Result result = QatTrainer.train(model, null, null, SPEC, cherries, TOKENS, validation,
                    diverging, null, 6, Progress.NONE);
            assertEquals(List.of(0, 2, 4, 6), result.validation().stream().map(QatTrainer.ValidationPoint::step)
                    .toList(), "scored at the start, every 2 steps and at the end");
            assertEquals(startNll, result.validation().get(0).meanNll(), 1e-9, "the start is scored as it is");
            assertTrue(result.validation().subList(1, 4).stream().allMatch(point -> point.meanNll() > startNll),
                    "lr 1.0 should make every later score worse: " + result.validation());
            assertEquals(0, result.bestStep());
            assertTrue(!result.improvedOnStart());
            Map<String, float[]> after = snapshot(model);
            start.forEach((name, values) -> assertArrayEquals(values, after.get(name), 0f, name));
        }
    }

    @Test
    void shouldEndOnTheBestScoredWeightsAndKeepThemAcrossSegments() {
        CherrySet cherries = cherries(1);
        QatTrainer.Validation validation = validation(2);
        QatSettings settings = new QatSettings(6, 2, 16, 1, 3e-3f, 0.05, 0.25, 0f, 1f, 4, 0);
        QatTrainer.Result whole;
        Map<String, float[]> wholeWeights;
        try (LlamaModel model = freshModel()) {
            whole = QatTrainer.train(model, null, null, SPEC, cherries, TOKENS, validation, settings, null, 6,
                    Progress.NONE);
            wholeWeights = snapshot(model);
            QatTrainer.ValidationPoint lowest = whole.validation().stream()
                    .min(java.util.Comparator.comparingDouble(QatTrainer.ValidationPoint::meanNll)).orElseThrow();
            assertEquals(lowest.step(), whole.bestStep(), "the best step is the lowest score's");
            assertEquals(lowest.meanNll(), validationNll(model, validation), 1e-6,
                    "the model ends holding the weights that scored best");
        }
        // segments of 2 steps in fresh models, as fleet trainers run them: the same scores, best and weights
        Path checkpoints = dir.resolve("validated-segments");
        QatTrainer.Result last = null;
        Map<String, float[]> segmented = null;
        for (int until : new int[] {2, 4, 6}) {
            try (LlamaModel model = freshModel()) {
                last = QatTrainer.train(model, null, null, SPEC, cherries, TOKENS, validation, settings, checkpoints,
                        until, Progress.NONE);
                segmented = snapshot(model);
            }
        }
        assertEquals(whole.validation(), last.validation());
        assertEquals(whole.bestStep(), last.bestStep());
        Map<String, float[]> finalWeights = segmented;
        wholeWeights.forEach((name, values) -> assertArrayEquals(values, finalWeights.get(name), 0f, name));
    }

    @Test
    void shouldRefuseToResumeACheckpointOfAnotherConfigurationSayingWhy() {
        Path checkpoints = dir.resolve("c");
        try (LlamaModel model = freshModel()) {
            QatTrainer.train(model, SPEC, cherries(1), TOKENS, settings(3, 2), checkpoints, Progress.NONE);
        }
        try (LlamaModel model = freshModel()) {
            InvalidInputException otherSeed = assertThrows(InvalidInputException.class, () -> QatTrainer.train(model,
                    SPEC, cherries(1), TOKENS, settings(3, 9), checkpoints, Progress.NONE));
            assertTrue(otherSeed.getMessage().contains("refusing to resume") && otherSeed.getMessage().contains("settings")
                    && otherSeed.getMessage().contains("seed=9"), otherSeed.getMessage());
        }
        try (LlamaModel model = freshModel()) {
            InvalidInputException otherCherries = assertThrows(InvalidInputException.class, () -> QatTrainer.train(model,
                    SPEC, cherries(2), TOKENS, settings(3, 2), checkpoints, Progress.NONE));
            assertTrue(otherCherries.getMessage().contains("cherries"), otherCherries.getMessage());
            InvalidInputException otherBits = assertThrows(InvalidInputException.class, () -> QatTrainer.train(model,
                    new QuantSpec(4, 8, QuantScheme.SYM_FULL), cherries(1), TOKENS, settings(3, 2), checkpoints,
                    Progress.NONE));
            assertTrue(otherBits.getMessage().contains("quantization"), otherBits.getMessage());
        }
    }

    @Test
    void shouldKeepTheLiveArrayCountFlatAcrossSteps() {
        List<Integer> counts = new ArrayList<>();
        try (LlamaModel model = freshModel()) {
            QatTrainer.train(model, SPEC, cherries(1), TOKENS, new QatSettings(40, 2, 16, 1, 1e-3f, 0.05, 0.25, 0f, 1f, 3,
                    0), null, (done, total, detail) -> counts.add(DjlRuntime.liveArrayCount()));
        }
        int parameters = LlamaTensorNames.expected(CONFIG).size();
        assertTrue(counts.get(4) >= parameters, "the count sees at least the model's parameters: " + counts.get(4));
        assertEquals(counts.get(4), counts.get(39), "live NDArrays after step 5 vs step 40: " + counts);
    }

    @Test
    void shouldLowerTheTrainingLossOfAQuantizedModel() {
        try (LlamaModel model = freshModel()) {
            List<Float> losses = QatTrainer.train(model, SPEC, cherries(1), TOKENS,
                    new QatSettings(30, 4, 16, 1, 3e-3f, 0.05, 0.25, 0f, 1f, 3, 0), null, Progress.NONE).losses();
            double first = losses.subList(0, 5).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
            double last = losses.subList(25, 30).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
            assertTrue(last < first - 0.1, "QAT learns: " + first + " -> " + last);
        }
    }

    /** One step at the peak rate (no warm-up), cherries at {@code scale} times it, the given tensors trained. */
    private static Map<String, float[]> afterOneStep(CherrySet cherries, float scale, TrainableParameters trainable) {
        try (LlamaModel model = freshModel()) {
            QatTrainer.train(model, SPEC, cherries, TOKENS, new QatSettings(1, 2, 16, 1, 1e-3f, 0, 1, 0f, 1f, 3, 0,
                    scale, trainable), null, Progress.NONE);
            return snapshot(model);
        }
    }

    @Test
    void shouldStepCherriesAtTheirOwnMultipleOfTheRate() {
        // Adam's first step is lr * g / (|g| + eps): a move of lr for every weight with a gradient, whatever its size
        CherrySet cherries = cherries(1);
        Map<String, float[]> start;
        try (LlamaModel model = freshModel()) {
            start = snapshot(model);
        }
        Map<String, float[]> common = afterOneStep(cherries, 1f, TrainableParameters.ALL);
        Map<String, float[]> scaled = afterOneStep(cherries, 7f, TrainableParameters.ALL);
        int cherriesChecked = 0;
        for (Map.Entry<String, CherrySet.Layer> entry : cherries.layers().entrySet()) {
            boolean[] mask = entry.getValue().mask();
            float[] before = start.get(entry.getKey());
            for (int i = 0; i < mask.length; i++) {
                float commonMove = common.get(entry.getKey())[i] - before[i];
                float scaledMove = scaled.get(entry.getKey())[i] - before[i];
                if (!mask[i]) {
                    assertEquals(commonMove, scaledMove, 0f, "a normal weight moves as before: " + entry.getKey());
                } else if (Math.abs(commonMove) > 5e-4f) { // a cherry with a gradient well above eps
                    assertEquals(7 * commonMove, scaledMove, 7e-5f, "a cherry moves 7x: " + entry.getKey());
                    assertEquals(1e-3f, Math.abs(commonMove), 2e-5f, "Adam's first move is the rate");
                    cherriesChecked++;
                }
            }
        }
        assertTrue(cherriesChecked > 20, "cherries with a gradient: " + cherriesChecked);
    }

    @Test
    void shouldLeaveEverythingButTheLinearWeightsAsItWasWhenOnlyTheyTrain() {
        Map<String, float[]> start;
        try (LlamaModel model = freshModel()) {
            start = snapshot(model);
        }
        Map<String, float[]> linearOnly = afterOneStep(cherries(1), 1f, TrainableParameters.LINEAR);
        Map<String, float[]> all = afterOneStep(cherries(1), 1f, TrainableParameters.ALL);
        List<String> linear = LlamaTensorNames.linearWeights(CONFIG);
        int frozen = 0;
        for (String name : start.keySet()) {
            if (linear.contains(name)) {
                assertTrue(!java.util.Arrays.equals(start.get(name), linearOnly.get(name)), "trains: " + name);
            } else {
                assertArrayEquals(start.get(name), linearOnly.get(name), 0f, "frozen: " + name);
                assertTrue(!java.util.Arrays.equals(start.get(name), all.get(name)), "trains by default: " + name);
                frozen++;
            }
        }
        assertTrue(frozen >= 3, "embeddings, norms and lm_head: " + frozen);
    }

    // biases (Qwen2) and q/k norms (Qwen3) are parameters like the RMSNorm weights: trained, never fake-quantized
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"qwen2.5", "qwen3"})
    void shouldTrainBiasesAndQkNormsInFullPrecisionUnlessOnlyLinearWeightsTrain(String family) {
        LlamaConfig config = RandomLlama.family(family);
        List<String> extras = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            if (tensor.name().endsWith(".bias") || tensor.name().endsWith("q_norm.weight")
                    || tensor.name().endsWith("k_norm.weight")) {
                extras.add(tensor.name());
            }
        }
        assertEquals(3 * (config.family().queryKeyValueBiases() ? 3 : 2), extras.size(), extras.toString());
        int[] tokens = new Random(3).ints(800, 0, config.vocabSize()).toArray();
        QuantSpec spec = new QuantSpec(3, 16, QuantScheme.SYM_FULL);
        CherrySet cherries = CherrySelector.select(SelectionCriterion.RANDOM, 0.1, Map.of(),
                LlamaTensorNames.linearWeightShapes(config), 1);
        for (TrainableParameters trainable : TrainableParameters.values()) {
            Map<String, float[]> start = RandomLlama.weights(config, 3);
            try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, start))) {
                QatSettings settings = new QatSettings(3, 2, 16, 1, 1e-2f, 0.0, 1.0, 0f, 1.0f, 1, 0, 1f, trainable);
                QatTrainer.Result result = QatTrainer.train(model, spec, cherries, tokens, settings, null, Progress.NONE);
                assertEquals(3, result.losses().size());
                Map<String, float[]> trained = snapshot(model);
                for (String name : extras) {
                    boolean moved = !java.util.Arrays.equals(start.get(name), trained.get(name));
                    assertEquals(trainable == TrainableParameters.ALL, moved, trainable + " " + name);
                }
                assertTrue(!java.util.Arrays.equals(start.get(LlamaTensorNames.Projection.Q.tensorName(0)),
                        trained.get(LlamaTensorNames.Projection.Q.tensorName(0))), "q_proj trains either way");
            }
        }
    }
}
