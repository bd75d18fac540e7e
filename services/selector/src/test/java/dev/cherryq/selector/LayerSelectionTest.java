package dev.cherryq.selector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.scoring.FisherPartial;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.fleet.job.SelectionGroups;
import dev.cherryq.fleet.testing.FleetHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Per-layer selection (what the selector's layer tasks compute) against the one-process pipeline, on the demo model
 * with four scoring shards: each shard's partial cut into layer groups and written and read back as the scorer and
 * the layer tasks do, each group merged in shard order, scored and selected alone, the groups' cherries joined;
 * against the whole partials merged in shard order and selected by {@code CherryqPipeline} on the whole model.
 * Bit for bit (no tolerance), for every criterion that reads Fisher partials; and with one shard, against the
 * one-process job's own scoring of every sample in one call.
 */
class LayerSelectionTest {

    @TempDir
    Path directory;

    @ParameterizedTest
    @EnumSource(value = SelectionCriterion.class, names = {"IMPACT", "SALIENCY", "GROUP_AWARE"})
    void shouldSelectExactlyTheWholeModelsCherriesLayerByLayer(SelectionCriterion criterion) throws Exception {
        QuantizationRecipe recipe = QuantizationRecipe.DEFAULTS.withMethod(QuantMethod.CHERRYQ).withBits(3)
                .withGroupSize(32).withCriterion(criterion).withCherryFraction(1.0 / 64).withCalibrationSamples(8)
                .withSeed(5).validate();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                LlamaModel model = LlamaModel.load(checkpoint)) {
            CalibrationSamples samples = samples(checkpoint);
            List<FisherPartial> shards = new ArrayList<>();
            for (int shard = 0; shard < 4; shard++) {
                shards.add(CherryqPipeline.score(model, samples, 2 * shard, 2 * shard + 2, Progress.NONE));
            }
            FisherPartial whole = shards.get(0).merge(shards.get(1)).merge(shards.get(2)).merge(shards.get(3));
            CherrySet expected = CherryqPipeline.select(recipe, checkpoint.config(),
                    CherryqPipeline.selectionScores(recipe, model, whole));
            assertSame(expected, perLayer(recipe, checkpoint, shards));

            // one shard of every sample: the one-process job's scoring itself
            FisherPartial all = CherryqPipeline.score(model, samples, 0, 8, Progress.NONE);
            CherrySet oneProcess = CherryqPipeline.select(recipe, checkpoint.config(),
                    CherryqPipeline.selectionScores(recipe, model, all));
            assertSame(oneProcess, perLayer(recipe, checkpoint, List.of(all)));
        }
    }

    /** What the scorer writes and the layer tasks read and compute, joined as the selection fan-in joins it. */
    private CherrySet perLayer(QuantizationRecipe recipe, LlamaCheckpoint checkpoint, List<FisherPartial> shards) {
        Map<String, long[]> allShapes = LlamaTensorNames.linearWeightShapes(checkpoint.config());
        List<List<String>> groups = SelectionGroups.of(shards.get(0).sums().keySet());
        assertEquals(checkpoint.config().numberOfLayers(), groups.size(), "one group per decoder layer");
        Map<String, CherrySet.Layer> layers = new LinkedHashMap<>();
        for (int group = 0; group < groups.size(); group++) {
            FisherPartial merged = null;
            for (int shard = 0; shard < shards.size(); shard++) {
                Path file = directory.resolve("fisher-" + shard + "-group-" + group + ".safetensors");
                shards.get(shard).restrictTo(groups.get(group)).write(file);
                FisherPartial read = FisherPartial.read(file);
                merged = merged == null ? read : merged.merge(read);
            }
            Map<String, long[]> shapes = new LinkedHashMap<>();
            Map<String, float[]> weights = new LinkedHashMap<>();
            for (String name : groups.get(group)) {
                shapes.put(name, allShapes.get(name));
                weights.put(name, checkpoint.tensors().readFloats(name));
            }
            layers.putAll(CherryqPipeline.selectLayers(recipe, shapes,
                    CherryqPipeline.layerSelectionScores(recipe, merged, weights, shapes)).layers());
        }
        return new CherrySet(recipe.criterion(), recipe.cherryFraction(), layers);
    }

    private static void assertSame(CherrySet expected, CherrySet actual) {
        assertEquals(List.copyOf(expected.layers().keySet()), List.copyOf(actual.layers().keySet()), "layer order");
        expected.layers().forEach((name, layer) -> {
            CherrySet.Layer other = actual.layers().get(name);
            assertEquals(layer.perRow(), other.perRow(), name);
            assertArrayEquals(layer.columns(), other.columns(), name);
        });
        assertEquals(expected.fingerprint(), actual.fingerprint());
    }

    private CalibrationSamples samples(LlamaCheckpoint checkpoint) throws Exception {
        Tokenizer tokenizer = Tokenizer.load(checkpoint.bundledTokenizer().orElseThrow());
        Path text = Files.writeString(directory.resolve("calibration.txt"), FleetHarness.sampleText(40, 1));
        int[] tokens = EvalCorpus.tokenizeText(text, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
        return new CalibrationSamples(tokens, 8, 32, 5);
    }
}
