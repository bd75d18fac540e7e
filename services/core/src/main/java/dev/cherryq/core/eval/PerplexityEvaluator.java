package dev.cherryq.core.eval;

import dev.cherryq.core.DjlRuntime;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaModel;

/**
 * Perplexity of a model over {@link TokenWindows}: windows run in batches through the DJL forward pass, per-token
 * NLL is summed in double precision on the host.
 */
public final class PerplexityEvaluator {

    private final LlamaModel model;
    private final int batchSize;

    public PerplexityEvaluator(LlamaModel model, int batchSize) {
        if (batchSize < 1) {
            throw new InvalidInputException("batch_size " + batchSize + " must be at least 1");
        }
        this.model = model;
        this.batchSize = batchSize;
    }

    public PerplexityResult evaluate(TokenWindows windows, Progress progress) {
        DjlRuntime.prepareComputeThread();
        checkVocabulary(windows.tokens(), model.config().vocabSize());
        long started = System.nanoTime();
        double totalNll = 0;
        int count = windows.count();
        int sequenceLength = windows.sequenceLength();
        for (int first = 0; first < count; first += batchSize) {
            int n = Math.min(batchSize, count - first);
            try (NDManager step = model.newStep()) {
                NDArray ids = model.tokenArray(step, windows.batch(first, n), n, sequenceLength); // (n, seq)
                float[] nll = model.nextTokenNll(step, ids).toFloatArray(); // (n, seq-1)
                for (float value : nll) {
                    totalNll += value;
                }
            }
            progress.update(first + n, count, "windows");
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        return PerplexityResult.of(totalNll, windows.predictedTokens(), count, sequenceLength, windows.tokens().length,
                seconds);
    }

    /** Every id must be in [0, vocabSize); the message gives the first offending position. */
    public static void checkVocabulary(int[] tokens, int vocabSize) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocabSize) {
                throw new InvalidInputException("token id " + tokens[i] + " at position " + i
                        + " is outside the model's vocabulary [0, " + vocabSize + ")");
            }
        }
    }
}
