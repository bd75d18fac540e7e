package dev.cherryq.core.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.RandomLlama;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Depth-streamed evaluation against the whole-model evaluator, the reference it must equal. */
class DepthStreamedEvaluatorTest {

    private static void assertSameResult(LlamaCheckpoint checkpoint, TokenWindows windows, int batchSize) {
        PerplexityResult whole;
        try (LlamaModel model = LlamaModel.load(checkpoint)) {
            whole = new PerplexityEvaluator(model, batchSize).evaluate(windows, Progress.NONE);
        }
        PerplexityResult streamed = DepthStreamedEvaluator.evaluate(checkpoint, windows, batchSize, Progress.NONE);
        assertEquals(whole.meanNll(), streamed.meanNll(), 1e-6 * whole.meanNll());
        assertEquals(whole.predictedTokens(), streamed.predictedTokens());
        assertEquals(whole.windows(), streamed.windows());
    }

    @Test
    void shouldEqualTheWholeModelEvaluationOnARealModel() {
        int[] tokens = new Random(8).ints(5 * 40 + 7, 0, 500).toArray();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(Path.of("../../models/demo").toAbsolutePath().normalize())) {
            assertSameResult(checkpoint, new TokenWindows(tokens, 40), 2); // batches of 2, 2 and 1
        }
    }

    @Test
    void shouldEqualTheWholeModelEvaluationWithGroupedQueriesAndTiedEmbeddings() {
        LlamaConfig config = RandomLlama.tinyConfig(true);
        LlamaCheckpoint checkpoint = new LlamaCheckpoint(null, "memory", config,
                RandomLlama.tensors(config, RandomLlama.weights(config, 9)));
        int[] tokens = new Random(2).ints(3 * 16, 0, config.vocabSize()).toArray();
        assertSameResult(checkpoint, new TokenWindows(tokens, 16), 8);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"llama-3.2", "mistral", "qwen2.5", "qwen3"})
    void shouldEqualTheWholeModelEvaluationOnEveryFamily(String family) {
        LlamaConfig config = RandomLlama.family(family);
        LlamaCheckpoint checkpoint = new LlamaCheckpoint(null, "memory", config,
                RandomLlama.tensors(config, RandomLlama.weights(config, 6)));
        int[] tokens = new Random(6).ints(3 * 20, 0, config.vocabSize()).toArray(); // longer than Mistral's window
        assertSameResult(checkpoint, new TokenWindows(tokens, 20), 2);
    }
}
