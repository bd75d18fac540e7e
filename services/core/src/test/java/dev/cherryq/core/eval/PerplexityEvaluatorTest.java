package dev.cherryq.core.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.model.ReferenceLlama;
import dev.cherryq.core.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PerplexityEvaluatorTest {

    @Test
    void shouldFollowTheWindowProtocol() {
        TokenWindows windows = new TokenWindows(new int[23], 5);
        assertEquals(4, windows.count(), "trailing 3 tokens dropped");
        assertEquals(16, windows.predictedTokens(), "positions 1..N-1 of each window");
        assertEquals(5 * 2, windows.batch(2, 2).length);
    }

    @Test
    void shouldRejectTextShorterThanOneWindowSayingHowMuchIsNeeded() {
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> new TokenWindows(new int[10], 64));
        assertTrue(error.getMessage().contains("10 tokens") && error.getMessage().contains("seq_len 64"));
    }

    @Test
    void shouldRejectTokenIdsAtOrAboveVocabSize() {
        InvalidInputException error = assertThrows(InvalidInputException.class,
                () -> PerplexityEvaluator.checkVocabulary(new int[] {1, 2, 67, 3}, 67));
        assertTrue(error.getMessage().contains("token id 67 at position 2"), error.getMessage());
    }

    @Test
    void shouldMatchReferenceMeanNllOnRandomModel() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = RandomLlama.weights(config, 21);
        int[] tokens = new Random(4).ints(3 * 16 + 5, 0, config.vocabSize()).toArray();
        PerplexityResult result;
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, weights))) {
            result = new PerplexityEvaluator(model, 2).evaluate(new TokenWindows(tokens, 16), Progress.NONE);
        }
        ReferenceLlama reference = new ReferenceLlama(config, weights, ReferenceLlama.RopeLayout.HALVES);
        double total = 0;
        for (int w = 0; w < 3; w++) {
            total += reference.meanNll(Arrays.copyOfRange(tokens, w * 16, w * 16 + 16)) * 15;
        }
        assertEquals(45, result.predictedTokens());
        assertEquals(total / 45, result.meanNll(), 1e-5 * total / 45);
        assertEquals(Math.exp(result.meanNll()), result.perplexity(), 1e-12);
    }

    @Test
    void shouldMatchReferenceMeanNllOnStories260kWithRealText() {
        Tokenizer tokenizer = Tokenizer.load(TestFixtures.tok512());
        int[] ids = EvalCorpus.tokenizeText(TestFixtures.shared("data/tinystories/tinystories_val_sample.txt"), tokenizer,
                EvalCorpus.DocumentJoin.GPTQ);
        int[] head = Arrays.copyOf(ids, 4 * 128);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(TestFixtures.stories260k());
                LlamaModel model = LlamaModel.load(checkpoint)) {
            PerplexityResult result = new PerplexityEvaluator(model, 4).evaluate(new TokenWindows(head, 128), Progress.NONE);
            Map<String, float[]> weights = new java.util.HashMap<>();
            checkpoint.tensors().tensorNames().forEach(n -> weights.put(n, checkpoint.tensors().readFloats(n)));
            ReferenceLlama reference = new ReferenceLlama(checkpoint.config(), weights, ReferenceLlama.RopeLayout.HALVES);
            double total = 0;
            for (int w = 0; w < 4; w++) {
                total += reference.meanNll(Arrays.copyOfRange(head, w * 128, w * 128 + 128)) * 127;
            }
            double expected = total / (4 * 127);
            assertEquals(expected, result.meanNll(), 1e-3 * expected, "1e-3 relative on mean_nll");
            assertTrue(result.meanNll() > 0.5 && result.meanNll() < 3, "a trained model, not noise: " + result.meanNll());
        }
    }
}
