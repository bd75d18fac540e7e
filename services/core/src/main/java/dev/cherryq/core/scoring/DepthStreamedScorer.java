package dev.cherryq.core.scoring;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.DepthStream;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.train.Pretrainer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The impact scores of {@link ImpactScorer} (the diagonal of the empirical Fisher over calibration samples, Cui and
 * Wang, 2024, Sec. 3) with one decoder block in memory at a time, besides the embeddings and the head: the scorer of
 * a model larger than one worker.
 *
 * <p>The forward pass runs block by block over every sample of the range and keeps only each block's input. The
 * head then gives each sample's loss gradient with respect to the last block's output. The backward pass reads the
 * blocks again from the last to the first; for each sample it recomputes the block from its kept input under a
 * gradient collector and back-propagates the incoming gradient (backward of sum(output * incoming)), which yields
 * the sample's gradient of the block's weights, squared and summed as in {@link ImpactScorer}, and the gradient of
 * the block's input, which goes on to the block below. By the chain rule these are the whole-model gradients; only
 * the order of float sums differs. Memory: one block's weights, plus samples x layers block inputs of (seq, hidden).
 */
public final class DepthStreamedScorer {

    private DepthStreamedScorer() {}

    /** A partial over samples [from, to) of the calibration set, equal to {@link ImpactScorer#score}'s. */
    public static FisherPartial score(LlamaCheckpoint checkpoint, CalibrationSamples samples, int from, int to,
            Progress progress) {
        DjlRuntime.prepareComputeThread();
        if (from < 0 || to > samples.count() || from >= to) {
            throw new IllegalArgumentException("sample range [" + from + ", " + to + ") outside [0, " + samples.count() + ")");
        }
        int layers = checkpoint.config().numberOfLayers();
        int count = to - from;
        int work = 2 * layers * count;
        int[] done = {0};
        try (LlamaModel resident = LlamaModel.loadWithoutBlocks(checkpoint); NDManager kept = DjlRuntime.newManager()) {
            DepthStream stream = new DepthStream(resident, kept, (layer, scope) -> {
                Map<String, NDArray> weights = LlamaModel.loadBlock(checkpoint, layer, scope);
                weights.values().forEach(weight -> weight.setRequiresGradient(true));
                return weights;
            }, () -> progress.update(++done[0], work, "block passes"));
            List<NDArray> ids = new ArrayList<>();
            List<NDArray> embedded = new ArrayList<>();
            for (int index = from; index < to; index++) {
                NDArray sampleIds = resident.tokenArray(kept, samples.sample(index), 1, samples.length()); // (1, L)
                ids.add(sampleIds);
                try (NDManager step = resident.newStep()) {
                    embedded.add(DepthStream.keep(resident.embed(step, sampleIds), kept)); // (1, L, hidden)
                }
            }
            // forward, block by block: keep each block's input
            List<NDArray> hidden = stream.forward(embedded);
            // the head: each sample's summed next-token loss, and its gradient at the last block's output
            List<NDArray> incoming = new ArrayList<>();
            for (int sample = 0; sample < count; sample++) {
                NDArray sampleIds = ids.get(sample);
                incoming.add(stream.inputGradient(hidden.get(sample),
                        (step, x) -> LlamaModel.nextTokenNll(resident.logits(step, x), sampleIds).sum()));
            }
            // backward, block by block from the last: weight gradients squared and summed, input gradients passed down
            Map<Integer, Map<String, float[]>> sumsByLayer = new LinkedHashMap<>();
            stream.backward(incoming, new DepthStream.BlockVisitor() {
                private FisherAccumulator blockSums;
                private final Map<String, NDArray> linear = new LinkedHashMap<>();

                @Override
                public void beforeBlock(int layer, Map<String, NDArray> weights, NDManager scope) {
                    blockSums = new FisherAccumulator(scope);
                    linear.clear();
                    weights.forEach((name, weight) -> {
                        if (isLinear(name)) {
                            linear.put(name, weight);
                        }
                    });
                }

                @Override
                public void afterItem(int layer, int item, Map<String, NDArray> weights) {
                    blockSums.addSquaredGradients(linear);
                    Pretrainer.zeroGradients(weights.values());
                }

                @Override
                public void afterBlock(int layer, Map<String, NDArray> weights) {
                    sumsByLayer.put(layer, blockSums.sums());
                    blockSums.close();
                }
            });
            // in the order of the whole-model scorer: layer by layer, projection by projection
            Map<String, float[]> sums = new LinkedHashMap<>();
            Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(checkpoint.config());
            for (String name : LlamaTensorNames.linearWeights(checkpoint.config())) {
                sums.put(name, sumsByLayer.get(LlamaTensorNames.layerOf(name)).get(name));
            }
            BitSet covered = new BitSet();
            covered.set(from, to);
            return new FisherPartial(ImpactScorer.fingerprint(checkpoint.config(), samples), covered, sums, shapes);
        }
    }

    private static boolean isLinear(String name) {
        return name.endsWith("_proj.weight");
    }
}
