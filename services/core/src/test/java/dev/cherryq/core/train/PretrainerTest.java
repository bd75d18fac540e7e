package dev.cherryq.core.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import java.util.List;
import org.junit.jupiter.api.Test;

class PretrainerTest {

    @Test
    void shouldLearnAPeriodicSequenceFromScratch() {
        LlamaConfig config = new LlamaConfig(32, 64, 2, 4, 2, 8, 16, 64, 1e-5, 10000.0, false, 1, 2);
        int[] tokens = new int[4000];
        int[] period = {3, 7, 1, 12, 5, 5, 9};
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = period[i % period.length];
        }
        Pretrainer.Settings settings = new Pretrainer.Settings(60, 4, 32, 1e-2f, 0.1, 0.1, 0f, 1.0f, 5);
        List<Float> losses;
        try (LlamaModel model = LlamaModel.fromTensors(config, LlamaInitializer.initialize(config, 5))) {
            losses = Pretrainer.train(model, tokens, settings, Progress.NONE).losses();
        }
        float first = losses.get(0);
        float last = losses.get(losses.size() - 1);
        // a uniform guess over 16 tokens costs ln 16 = 2.77 nats; a learned period costs almost nothing
        assertTrue(first > 2.0f, "starts near uniform: " + first);
        assertTrue(last < 0.2f, "learns the period: loss " + first + " -> " + last);
    }
}
