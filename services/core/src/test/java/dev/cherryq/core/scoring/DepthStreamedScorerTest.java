package dev.cherryq.core.scoring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.RandomLlama;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Depth-streamed scoring against the whole-model scorer, the reference it must equal. */
class DepthStreamedScorerTest {

    private static void assertSameFisher(FisherPartial whole, FisherPartial streamed) {
        assertEquals(whole.fingerprint(), streamed.fingerprint());
        assertEquals(whole.samples(), streamed.samples());
        assertEquals(whole.sums().keySet().stream().toList(), streamed.sums().keySet().stream().toList());
        FisherAssertions.assertSameSums(whole.sums(), streamed.sums());
        whole.shapes().forEach((name, shape) -> assertEquals(shape.length, streamed.shapes().get(name).length, name));
    }

    @Test
    void shouldEqualTheWholeModelFisherOnARealModel() {
        Path demo = Path.of("../../models/demo").toAbsolutePath().normalize();
        Random random = new Random(3);
        int[] tokens = random.ints(4000, 0, 500).toArray();
        CalibrationSamples samples = new CalibrationSamples(tokens, 4, 48, 7);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(demo)) {
            FisherPartial whole;
            try (LlamaModel model = LlamaModel.load(checkpoint)) {
                whole = ImpactScorer.score(model, samples, 1, 4, Progress.NONE);
            }
            assertSameFisher(whole, DepthStreamedScorer.score(checkpoint, samples, 1, 4, Progress.NONE));
        }
    }

    @Test
    void shouldEqualTheWholeModelFisherWithGroupedQueriesAndTiedEmbeddings() {
        LlamaConfig config = RandomLlama.tinyConfig(true);
        LlamaCheckpoint checkpoint = new LlamaCheckpoint(null, "memory", config,
                RandomLlama.tensors(config, RandomLlama.weights(config, 5)));
        int[] tokens = new Random(4).ints(600, 0, config.vocabSize()).toArray();
        CalibrationSamples samples = new CalibrationSamples(tokens, 3, 16, 1);
        FisherPartial whole;
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            whole = ImpactScorer.score(model, samples, 0, 3, Progress.NONE);
        }
        assertSameFisher(whole, DepthStreamedScorer.score(checkpoint, samples, 0, 3, Progress.NONE));
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"llama-3.2", "mistral", "qwen2.5", "qwen3"})
    void shouldEqualTheWholeModelFisherOnEveryFamily(String family) {
        LlamaConfig config = RandomLlama.family(family);
        LlamaCheckpoint checkpoint = new LlamaCheckpoint(null, "memory", config,
                RandomLlama.tensors(config, RandomLlama.weights(config, 8)));
        int[] tokens = new Random(8).ints(600, 0, config.vocabSize()).toArray();
        CalibrationSamples samples = new CalibrationSamples(tokens, 2, 20, 1); // longer than Mistral's window
        FisherPartial whole;
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            whole = ImpactScorer.score(model, samples, 0, 2, Progress.NONE);
        }
        assertSameFisher(whole, DepthStreamedScorer.score(checkpoint, samples, 0, 2, Progress.NONE));
    }
}
