package dev.cherryq.core.qat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.model.ReferenceLlama;
import dev.cherryq.core.quant.GroupQuantizer;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block-wise training against references written here: the capture against a naive double-precision forward
 * ({@link ReferenceLlama}) rounded to f16 as stored; the quantized block's starting error against the same naive
 * block computed on weights rounded by {@link GroupQuantizer} with the cherries kept exact; and the training itself
 * against its own guarantees (never worse than its start on held-out windows, frozen tensors unchanged, shards of a
 * capture equal to one capture).
 */
class BlockwiseTrainerTest {

    private static final QuantSpec SPEC = new QuantSpec(3, 16, QuantScheme.SYM_FULL);

    @TempDir
    Path work;

    private static Map<String, float[]> weights(LlamaConfig config) {
        return RandomLlama.weights(config, 11);
    }

    private static LlamaCheckpoint checkpoint(LlamaConfig config, Map<String, float[]> weights) {
        return new LlamaCheckpoint(null, "memory", config, RandomLlama.tensors(config, weights));
    }

    private static CherrySet magnitudeCherries(LlamaConfig config, Map<String, float[]> weights) {
        Map<String, float[]> scores = new LinkedHashMap<>();
        LlamaTensorNames.linearWeights(config).forEach(name -> scores.put(name, weights.get(name)));
        return CherrySelector.select(SelectionCriterion.MAGNITUDE, 1.0 / 16, scores,
                LlamaTensorNames.linearWeightShapes(config), 3);
    }

    private static QatSettings settings(int steps, TrainableParameters trainable) {
        return new QatSettings(steps, 2, 12, 1, 2e-3f, 0.05, 0.1, 0f, 1f, 5, 0, 1f, trainable);
    }

    @Test
    void shouldCaptureTheHiddenStatesOfANaiveForwardAtEveryDepth() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = weights(config);
        int[] tokens = new Random(1).ints(200, 0, config.vocabSize()).toArray();
        int[] starts = {0, 37, 150};
        int length = 12;
        BlockActivations.capture(checkpoint(config, weights), tokens, starts, length, work, Progress.NONE);
        ReferenceLlama reference = new ReferenceLlama(config, weights, ReferenceLlama.RopeLayout.HALVES);
        for (int depth = 0; depth <= config.numberOfLayers(); depth++) {
            BlockActivations.Depth captured = BlockActivations.read(List.of(work), depth);
            assertEquals(starts.length, captured.windows());
            // streamed, a window range at a time, the same values as held
            BlockActivations.Depth streamed = BlockActivations.open(List.of(BlockActivations.file(work, depth)));
            assertArrayEquals(captured.windows(1, 3), streamed.windows(1, 3));
            float[] values = captured.windows(0, starts.length);
            for (int w = 0; w < starts.length; w++) {
                double[][] x = reference.embed(java.util.Arrays.copyOfRange(tokens, starts[w], starts[w] + length));
                for (int layer = 0; layer < depth; layer++) {
                    x = reference.block(x, layer);
                }
                for (int t = 0; t < length; t++) {
                    for (int i = 0; i < config.hiddenSize(); i++) {
                        double expected = x[t][i];
                        float stored = values[(w * length + t) * config.hiddenSize() + i];
                        // f16 keeps 11 significant bits; f32 against double adds far less
                        assertEquals(expected, stored, Math.abs(expected) * 1.5e-3 + 1e-5,
                                "depth " + depth + " window " + w + " position " + t + " element " + i);
                    }
                }
            }
        }
    }

    @Test
    void shouldStartFromTheErrorOfTheRoundedBlockWithExactCherries() {
        LlamaConfig config = RandomLlama.tinyConfig(true);
        Map<String, float[]> weights = weights(config);
        LlamaCheckpoint checkpoint = checkpoint(config, weights);
        CherrySet cherries = magnitudeCherries(config, weights);
        int[] tokens = new Random(2).ints(300, 0, config.vocabSize()).toArray();
        int layer = 1;
        BlockActivations.capture(checkpoint, tokens, new int[] {0, 12, 24, 36}, 12, work, Progress.NONE);
        BlockwiseTrainer.Pairs pairs = new BlockwiseTrainer.Pairs(BlockActivations.read(List.of(work), layer),
                BlockActivations.read(List.of(work), layer + 1));
        BlockwiseTrainer.Result result = BlockwiseTrainer.train(checkpoint, layer, pairs, pairs, SPEC, cherries,
                settings(1, TrainableParameters.ALL), 1, Progress.NONE);
        // the naive block on round-to-nearest weights whose cherries keep their value
        Map<String, float[]> rounded = new HashMap<>(weights);
        for (String name : LlamaTensorNames.linearWeights(config)) {
            long[] shape = LlamaTensorNames.linearWeightShapes(config).get(name);
            int rows = (int) shape[0];
            int columns = (int) shape[1];
            boolean[] mask = cherries.layers().get(name).mask();
            float[] values = GroupQuantizer.quantize(weights.get(name), rows, columns, SPEC, mask).dequantize();
            for (int i = 0; i < mask.length; i++) {
                if (mask[i]) {
                    values[i] = weights.get(name)[i];
                }
            }
            rounded.put(name, values);
        }
        ReferenceLlama quantized = new ReferenceLlama(config, rounded, ReferenceLlama.RopeLayout.HALVES);
        double sum = 0;
        long count = 0;
        int hidden = config.hiddenSize();
        float[] inputs = pairs.inputs().windows(0, pairs.inputs().windows());
        float[] targets = pairs.targets().windows(0, pairs.targets().windows());
        for (int w = 0; w < pairs.inputs().windows(); w++) {
            double[][] x = new double[12][hidden];
            for (int t = 0; t < 12; t++) {
                for (int i = 0; i < hidden; i++) {
                    x[t][i] = inputs[(w * 12 + t) * hidden + i];
                }
            }
            double[][] y = quantized.block(x, layer);
            for (int t = 0; t < 12; t++) {
                for (int i = 0; i < hidden; i++) {
                    double difference = y[t][i] - targets[(w * 12 + t) * hidden + i];
                    sum += difference * difference;
                    count++;
                }
            }
        }
        double expected = sum / count;
        assertTrue(expected > 0);
        assertEquals(0, result.validation().get(0).step());
        assertEquals(expected, result.validation().get(0).meanNll(), expected * 1e-3);
    }

    @Test
    void shouldLowerTheHeldOutErrorAndNeverReturnWorseThanItsStart() {
        Path demo = Path.of("../../models/demo").toAbsolutePath().normalize();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(demo)) {
            LlamaConfig config = checkpoint.config();
            int[] tokens = new Random(3).ints(5000, 3, 1000).toArray();
            QatSettings settings = new QatSettings(30, 2, 32, 1, 5e-4f, 0.05, 0.25, 0f, 1f, 5, 0, 1f,
                    TrainableParameters.ALL);
            int[] starts = BlockwiseTrainer.trainingWindowStarts(4000, settings);
            BlockActivations.capture(checkpoint, tokens, starts, 32, work.resolve("train"), Progress.NONE);
            BlockActivations.capture(checkpoint, tokens, new int[] {4100, 4200, 4300, 4400}, 32,
                    work.resolve("validation"), Progress.NONE);
            int layer = 2;
            BlockwiseTrainer.Pairs train = new BlockwiseTrainer.Pairs(
                    BlockActivations.read(List.of(work.resolve("train")), layer),
                    BlockActivations.read(List.of(work.resolve("train")), layer + 1));
            BlockwiseTrainer.Pairs validation = new BlockwiseTrainer.Pairs(
                    BlockActivations.read(List.of(work.resolve("validation")), layer),
                    BlockActivations.read(List.of(work.resolve("validation")), layer + 1));
            BlockwiseTrainer.Result result = BlockwiseTrainer.train(checkpoint, layer, train, validation, SPEC,
                    CherrySet.empty(), settings, 10, Progress.NONE);
            double start = result.validation().get(0).meanNll();
            double best = result.validation().stream().mapToDouble(QatTrainer.ValidationPoint::meanNll).min()
                    .orElseThrow();
            assertEquals(List.of(0, 10, 20, 30), result.validation().stream().map(QatTrainer.ValidationPoint::step)
                    .toList());
            assertTrue(result.bestStep() > 0, "30 steps should beat round to nearest: " + result.validation());
            assertTrue(best < start * 0.9, "held-out error " + best + " against the start's " + start);
            // the returned weights are the best point's: scoring them again gives its error
            Map<String, float[]> returned = new HashMap<>();
            for (String name : checkpoint.tensors().tensorNames()) {
                returned.put(name, LlamaTensorNames.layerOf(name) == layer ? result.weights().get(name)
                        : checkpoint.tensors().readFloats(name));
            }
            LlamaCheckpoint trained = new LlamaCheckpoint(null, "memory", config,
                    RandomLlama.tensors(config, returned));
            BlockwiseTrainer.Result rescored = BlockwiseTrainer.train(trained, layer, train, validation, SPEC,
                    CherrySet.empty(), new QatSettings(1, 2, 32, 1, 1e-12f, 0, 1, 0f, 1f, 5, 0, 1f,
                            TrainableParameters.ALL), 1, Progress.NONE);
            assertEquals(best, rescored.validation().get(0).meanNll(), best * 1e-5);
        }
    }

    @Test
    void shouldTrainTheSameFromShardsOfACaptureAsFromOne() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = weights(config);
        LlamaCheckpoint checkpoint = checkpoint(config, weights);
        int[] tokens = new Random(4).ints(400, 0, config.vocabSize()).toArray();
        QatSettings settings = settings(3, TrainableParameters.ALL);
        int[] starts = BlockwiseTrainer.trainingWindowStarts(tokens.length, settings);
        BlockActivations.capture(checkpoint, tokens, starts, 12, work.resolve("whole"), Progress.NONE);
        BlockActivations.capture(checkpoint, tokens, java.util.Arrays.copyOfRange(starts, 0, 2), 12,
                work.resolve("shard-0"), Progress.NONE);
        BlockActivations.capture(checkpoint, tokens, java.util.Arrays.copyOfRange(starts, 2, starts.length), 12,
                work.resolve("shard-1"), Progress.NONE);
        CherrySet cherries = magnitudeCherries(config, weights);
        BlockwiseTrainer.Result whole = train(checkpoint, List.of(work.resolve("whole")), cherries, settings);
        BlockwiseTrainer.Result sharded = train(checkpoint, List.of(work.resolve("shard-0"), work.resolve("shard-1")),
                cherries, settings);
        whole.weights().forEach((name, values) -> assertArrayEquals(values, sharded.weights().get(name), name));
        assertEquals(whole.losses(), sharded.losses());
        // streamed from the shards' files, a micro-batch at a time: the same again
        List<Path> shards = List.of(work.resolve("shard-0"), work.resolve("shard-1"));
        BlockwiseTrainer.Pairs streamed = BlockwiseTrainer.Pairs.open(
                shards.stream().map(folder -> BlockActivations.file(folder, 0)).toList(),
                shards.stream().map(folder -> BlockActivations.file(folder, 1)).toList());
        assertFalse(streamed.inputs().isHeld());
        BlockwiseTrainer.Result fromFiles = BlockwiseTrainer.train(checkpoint, 0, streamed, null, SPEC, cherries,
                settings, 1, Progress.NONE);
        whole.weights().forEach((name, values) -> assertArrayEquals(values, fromFiles.weights().get(name), name));
    }

    @Test
    void shouldKeepNormsWhenOnlyLinearWeightsTrainAndMoveCherriesAndNormalWeights() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = weights(config);
        LlamaCheckpoint checkpoint = checkpoint(config, weights);
        int[] tokens = new Random(5).ints(400, 0, config.vocabSize()).toArray();
        QatSettings settings = settings(3, TrainableParameters.LINEAR);
        BlockActivations.capture(checkpoint, tokens, BlockwiseTrainer.trainingWindowStarts(tokens.length, settings),
                12, work, Progress.NONE);
        CherrySet cherries = magnitudeCherries(config, weights);
        BlockwiseTrainer.Result result = train(checkpoint, List.of(work), cherries, settings);
        assertArrayEquals(weights.get(LlamaTensorNames.attentionNorm(0)),
                result.weights().get(LlamaTensorNames.attentionNorm(0)));
        assertArrayEquals(weights.get(LlamaTensorNames.mlpNorm(0)), result.weights().get(LlamaTensorNames.mlpNorm(0)));
        String q = LlamaTensorNames.Projection.Q.tensorName(0);
        boolean[] mask = cherries.layers().get(q).mask();
        int movedCherries = 0;
        int movedNormal = 0;
        for (int i = 0; i < mask.length; i++) {
            if (weights.get(q)[i] != result.weights().get(q)[i]) {
                if (mask[i]) {
                    movedCherries++;
                } else {
                    movedNormal++;
                }
            }
        }
        assertNotEquals(0, movedCherries, "cherries train with their exact gradient");
        assertNotEquals(0, movedNormal, "normal weights train through the straight-through estimator");
    }

    @Test
    void shouldResumeABlockFromItsLastCheckpointToTheSameWeightsAsAnUnbrokenRun() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = weights(config);
        LlamaCheckpoint checkpoint = checkpoint(config, weights);
        int[] tokens = new Random(6).ints(600, 0, config.vocabSize()).toArray();
        // 6 steps, a checkpoint every 2 (the 11th setting)
        QatSettings settings = new QatSettings(6, 2, 12, 1, 2e-3f, 0.05, 0.1, 0f, 1f, 5, 2, 1f,
                TrainableParameters.ALL);
        BlockActivations.capture(checkpoint, tokens, BlockwiseTrainer.trainingWindowStarts(500, settings), 12,
                work.resolve("train"), Progress.NONE);
        BlockActivations.capture(checkpoint, tokens, new int[] {520, 540, 560}, 12, work.resolve("validation"),
                Progress.NONE);
        BlockwiseTrainer.Pairs train = new BlockwiseTrainer.Pairs(
                BlockActivations.read(List.of(work.resolve("train")), 1),
                BlockActivations.read(List.of(work.resolve("train")), 2));
        BlockwiseTrainer.Pairs validation = new BlockwiseTrainer.Pairs(
                BlockActivations.read(List.of(work.resolve("validation")), 1),
                BlockActivations.read(List.of(work.resolve("validation")), 2));
        CherrySet cherries = magnitudeCherries(config, weights);
        BlockwiseTrainer.Result unbroken = BlockwiseTrainer.train(checkpoint, 1, train, validation, SPEC, cherries,
                settings, 1, Progress.NONE);

        Path checkpoints = work.resolve("checkpoints");
        int[] saves = {0};
        // the worker dies right after storing its second checkpoint (step 4)
        assertThrows(IllegalStateException.class, () -> BlockwiseTrainer.train(checkpoint, 1, train, validation, SPEC,
                cherries, settings, 1, checkpoints, folder -> {
                    if (++saves[0] == 2) {
                        throw new IllegalStateException("killed");
                    }
                }, Progress.NONE));
        int[] resumedSaves = {0};
        BlockwiseTrainer.Result resumed = BlockwiseTrainer.train(checkpoint, 1, train, validation, SPEC, cherries,
                settings, 1, checkpoints, folder -> resumedSaves[0]++, Progress.NONE);
        assertEquals(0, resumedSaves[0], "resumed at step 4: no checkpoint before the last step remains to be saved");
        unbroken.weights().forEach((name, values) -> assertArrayEquals(values, resumed.weights().get(name), name));
        assertEquals(unbroken.losses(), resumed.losses());
        assertEquals(unbroken.validation(), resumed.validation());
        assertEquals(unbroken.bestStep(), resumed.bestStep());

        // another run's checkpoint (other cherries) is refused, naming what differs
        InvalidInputException refused = assertThrows(InvalidInputException.class, () -> BlockwiseTrainer.train(
                checkpoint, 1, train, validation, SPEC, CherrySet.empty(), settings, 1, checkpoints, folder -> { },
                Progress.NONE));
        assertTrue(refused.getMessage().contains("cherries"), refused.getMessage());
    }

    private static BlockwiseTrainer.Result train(LlamaCheckpoint checkpoint, List<Path> shards, CherrySet cherries,
            QatSettings settings) {
        BlockwiseTrainer.Pairs pairs = new BlockwiseTrainer.Pairs(BlockActivations.read(shards, 0),
                BlockActivations.read(shards, 1));
        return BlockwiseTrainer.train(checkpoint, 0, pairs, null, SPEC, cherries, settings, 1, Progress.NONE);
    }
}
