package dev.cherryq.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Back-propagation through the decoder blocks with one block's graph at a time: the depth-streamed pass that
 * {@code scoring.DepthStreamedScorer} and {@code qat.EndToEndPhase} share. The forward runs block by block over
 * every item (a sample, or a micro-batch) and keeps only each block's input. The caller then takes the gradient of
 * its loss at the last block's output ({@link #inputGradient} on the head), and the backward reads the blocks again
 * from the last to the first: for each item it recomputes the block from its kept input under a gradient collector
 * and back-propagates the incoming gradient (backward of sum(output * incoming)). That accumulates the item's
 * gradient into every block tensor (or anything the block's forward reads) that requires one, and yields the
 * gradient of the block's input, which goes on to the block below. By the chain rule these are the whole-model
 * gradients; only the order of float sums differs. Memory: items x layers block inputs of (batch, seq, hidden),
 * plus one block's graph.
 */
public final class DepthStream {

    /** A block's tensors by HF name, read or viewed into {@code scope} (closed when the block is done). */
    @FunctionalInterface
    public interface Blocks {
        Map<String, NDArray> open(int layer, NDManager scope);
    }

    /** What the backward does around each block. */
    public interface BlockVisitor {

        /** Before the block's items, with its tensors open. */
        default void beforeBlock(int layer, Map<String, NDArray> weights, NDManager scope) { }

        /** After one item's backward through the block: its gradients have accumulated. */
        default void afterItem(int layer, int item, Map<String, NDArray> weights) { }

        /** After the block's last item, before its tensors close. */
        default void afterBlock(int layer, Map<String, NDArray> weights) { }
    }

    /** What one backward needs: a scalar computed from the leaf {@code x} in a step. */
    @FunctionalInterface
    public interface ScalarOfInput {
        NDArray apply(NDManager step, NDArray x);
    }

    private final LlamaModel resident;
    private final NDManager kept;
    private final Blocks blocks;
    private final Runnable onBlockPass;
    /** inputs.get(layer).get(item): the block's input, (batch, seq, hidden), owned by {@link #kept}. */
    private final List<List<NDArray>> inputs = new ArrayList<>();

    /**
     * @param resident runs the blocks (its own embeddings and head, if any, are the caller's business)
     * @param kept owns the kept inputs and gradients; the caller closes it
     * @param onBlockPass called after every block pass of one item, forward or backward (progress)
     */
    public DepthStream(LlamaModel resident, NDManager kept, Blocks blocks, Runnable onBlockPass) {
        this.resident = resident;
        this.kept = kept;
        this.blocks = blocks;
        this.onBlockPass = onBlockPass;
    }

    /**
     * The forward through every block, without gradients, keeping each block's input.
     *
     * @param embedded per item the first block's input, (batch, seq, hidden), owned by {@code kept}
     * @return per item the last block's output, owned by {@code kept}
     */
    public List<NDArray> forward(List<NDArray> embedded) {
        List<NDArray> hidden = new ArrayList<>(embedded);
        inputs.clear();
        int layers = resident.config().numberOfLayers();
        for (int layer = 0; layer < layers; layer++) {
            inputs.add(new ArrayList<>(hidden));
            try (NDManager blockScope = kept.newSubManager()) {
                Map<String, NDArray> weights = blocks.open(layer, blockScope);
                for (int item = 0; item < hidden.size(); item++) {
                    try (NDManager step = resident.newStep()) {
                        attach(weights, step);
                        hidden.set(item, keep(resident.block(step, hidden.get(item), layer, weights), kept));
                    }
                    onBlockPass.run();
                }
            }
        }
        return hidden;
    }

    /**
     * The backward from the last block to the first after {@link #forward}; the kept inputs and the incoming
     * gradients are closed as they are used.
     *
     * @param incoming per item the loss's gradient at the last block's output, owned by {@code kept}
     * @return per item the gradient at the first block's input, owned by {@code kept}
     */
    public List<NDArray> backward(List<NDArray> incoming, BlockVisitor visitor) {
        List<NDArray> gradients = new ArrayList<>(incoming);
        for (int layer = inputs.size() - 1; layer >= 0; layer--) {
            try (NDManager blockScope = kept.newSubManager()) {
                Map<String, NDArray> weights = blocks.open(layer, blockScope);
                visitor.beforeBlock(layer, weights, blockScope);
                for (int item = 0; item < gradients.size(); item++) {
                    int current = layer;
                    NDArray gradientOut = gradients.get(item);
                    NDArray gradientIn = inputGradient(inputs.get(layer).get(item), (step, x) -> {
                        attach(weights, step);
                        return resident.block(step, x, current, weights).mul(gradientOut).sum();
                    });
                    visitor.afterItem(layer, item, weights);
                    gradientOut.close();
                    inputs.get(layer).get(item).close();
                    gradients.set(item, gradientIn);
                    onBlockPass.run();
                }
                visitor.afterBlock(layer, weights);
            }
        }
        inputs.clear();
        return gradients;
    }

    /**
     * The gradient of {@code f(x)} with respect to {@code x}, owned by {@code kept}; gradients of whatever
     * {@code f} reads that requires one accumulate.
     */
    public NDArray inputGradient(NDArray x, ScalarOfInput f) {
        try (NDManager step = resident.newStep()) {
            NDArray leaf = x.duplicate(); // a fresh leaf in the step, so its gradient is its own
            leaf.attach(step);
            leaf.setRequiresGradient(true);
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                collector.backward(f.apply(step, leaf));
            }
            return keep(leaf.getGradient(), kept);
        }
    }

    /**
     * The block's tensors, attached to the step for its duration; those the step already holds (the resident
     * model's own parameters, which {@link LlamaModel#newStep} attaches) are left alone, since a second temporary
     * attachment would return them to the step itself.
     */
    private static void attach(Map<String, NDArray> weights, NDManager step) {
        for (NDArray weight : weights.values()) {
            if (weight.getManager() != step) {
                weight.tempAttach(step);
            }
        }
    }

    /** A copy of {@code array} owned by {@code kept}, outliving the step it was computed in. */
    public static NDArray keep(NDArray array, NDManager kept) {
        NDArray copy = array.duplicate();
        copy.attach(kept);
        return copy;
    }
}
