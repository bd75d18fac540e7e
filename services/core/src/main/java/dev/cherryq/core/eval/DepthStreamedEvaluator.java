package dev.cherryq.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The perplexity of {@link PerplexityEvaluator} with one decoder block in memory at a time, besides the embeddings and
 * the head: the evaluator of a model larger than one worker. Every window of the range is embedded, then each block
 * is read once and run over all of them, and the head turns the last block's outputs into next-token NLL. Memory: one
 * block's weights plus windows x (seq, hidden) activations.
 */
public final class DepthStreamedEvaluator {

    private DepthStreamedEvaluator() {}

    public static PerplexityResult evaluate(LlamaCheckpoint checkpoint, TokenWindows windows, int batchSize,
            Progress progress) {
        DjlRuntime.prepareComputeThread();
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch_size " + batchSize + " must be at least 1");
        }
        PerplexityEvaluator.checkVocabulary(windows.tokens(), checkpoint.config().vocabSize());
        long started = System.nanoTime();
        int count = windows.count();
        int sequenceLength = windows.sequenceLength();
        int layers = checkpoint.config().numberOfLayers();
        int batches = (count + batchSize - 1) / batchSize;
        int work = (layers + 2) * batches;
        int done = 0;
        double totalNll = 0;
        try (LlamaModel resident = LlamaModel.loadWithoutBlocks(checkpoint); NDManager kept = DjlRuntime.newManager()) {
            List<NDArray> ids = new ArrayList<>(); // per batch: (n, seq)
            List<NDArray> hidden = new ArrayList<>(); // per batch: (n, seq, hidden)
            for (int first = 0; first < count; first += batchSize) {
                int n = Math.min(batchSize, count - first);
                NDArray batchIds = resident.tokenArray(kept, windows.batch(first, n), n, sequenceLength);
                ids.add(batchIds);
                try (NDManager step = resident.newStep()) {
                    hidden.add(keep(resident.embed(step, batchIds), kept));
                }
                progress.update(++done, work, "block passes");
            }
            // each block read once, run over every batch
            for (int layer = 0; layer < layers; layer++) {
                try (NDManager blockScope = kept.newSubManager()) {
                    Map<String, NDArray> weights = LlamaModel.loadBlock(checkpoint, layer, blockScope);
                    for (int batch = 0; batch < hidden.size(); batch++) {
                        try (NDManager step = resident.newStep()) {
                            weights.values().forEach(weight -> weight.tempAttach(step));
                            NDArray output = keep(resident.block(step, hidden.get(batch), layer, weights), kept);
                            hidden.get(batch).close();
                            hidden.set(batch, output);
                        }
                        progress.update(++done, work, "block passes");
                    }
                }
            }
            // the head: per-token NLL summed in double precision on the host
            for (int batch = 0; batch < hidden.size(); batch++) {
                try (NDManager step = resident.newStep()) {
                    float[] nll = LlamaModel.nextTokenNll(resident.logits(step, hidden.get(batch)), ids.get(batch))
                            .toFloatArray(); // (n, seq-1)
                    for (float value : nll) {
                        totalNll += value;
                    }
                }
                progress.update(++done, work, "block passes");
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        return PerplexityResult.of(totalNll, windows.predictedTokens(), count, sequenceLength, windows.tokens().length,
                seconds);
    }

    /** A copy of {@code array} owned by {@code kept}, outliving the step it was computed in. */
    private static NDArray keep(NDArray array, NDManager kept) {
        NDArray copy = array.duplicate();
        copy.attach(kept);
        return copy;
    }
}
