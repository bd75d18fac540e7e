package dev.cherryq.core.qat;

import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;

/**
 * What a training task holds in memory, estimated before it starts, so that a worker with a memory budget can
 * refuse a task it cannot fit instead of dying in it. The terms, in bytes (f32 everywhere: DJL computes in f32):
 * <ul>
 *   <li>trained tensors: 7 x 4 bytes per parameter: the value, its gradient, AdamW's two moments, the best weights'
 *       copy and the fake-quantized weight with its temporaries;</li>
 *   <li>the autograd graph of one micro-batch: per token, the saved inputs of every norm, projection, activation and
 *       attention score of a block (about 16 x hidden + 6 x intermediate + 3 x heads x length values);</li>
 *   <li>block-wise training only: the captured inputs and targets of every window, training and validation, as f32
 *       (the files are f16; a block task reads them into the heap), or, streamed, of one micro-batch;</li>
 *   <li>end-to-end training only: the logits and their gradient (3 x vocabulary per token), and with distillation
 *       the teacher (the model again, 4 bytes per parameter) and its log-probabilities;</li>
 *   <li>the JVM and the engine: {@link #BASE_BYTES}, a round figure.</li>
 * </ul>
 * docs/SCALING.md sets these against measured peaks.
 */
public final class MemoryEstimate {

    /**
     * The JVM and the engine: a round figure above what small workers hold at rest (the demo's scorer peaks at 364 MiB
     * and its selector at 185, docs/BENCHMARKS.md section 5); an idle trainer's resident set was not measured.
     */
    public static final long BASE_BYTES = 512L << 20;

    private static final long FLOAT = 4;

    private MemoryEstimate() {}

    /** Parameters of one decoder block (its norms, biases and linear weights). */
    public static long blockParameters(LlamaConfig config) {
        long count = 0;
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            if (LlamaTensorNames.layerOf(tensor.name()) == 0) {
                long elements = 1;
                for (long dimension : tensor.shape()) {
                    elements *= dimension;
                }
                count += elements;
            }
        }
        return count;
    }

    /** The autograd graph of one micro-batch through {@code blocks} decoder blocks. */
    static long graphBytes(LlamaConfig config, int batch, int length, int blocks) {
        long perToken = 16L * config.hiddenSize() + 6L * config.intermediateSize()
                + 3L * config.numberOfHeads() * length;
        return (long) batch * length * perToken * FLOAT * blocks;
    }

    /**
     * A block-wise block task: one block trained on {@code trainWindows} captured windows and scored on
     * {@code validationWindows}, with every window's inputs and targets held in memory, or with {@code streamed}
     * only a few windows' at a time (a micro-batch, or a validation batch of up to 8, read from the files when they
     * are used): memory that no longer grows with the windows.
     */
    public static long blockTask(LlamaConfig config, long trainWindows, long validationWindows, int length,
            int batch, boolean streamed) {
        long windowsHeld = streamed ? Math.max(batch, Math.min(8, validationWindows)) : trainWindows + validationWindows;
        long activations = 2 * windowsHeld * length * config.hiddenSize() * FLOAT;
        return BASE_BYTES + 7 * blockParameters(config) * FLOAT + graphBytes(config, batch, length, 1) + activations;
    }

    /** An end-to-end training task over the whole model, with {@code distilled} for the teacher. */
    public static long endToEndTask(LlamaConfig config, int batch, int length, boolean distilled) {
        long parameters = config.parameterCount();
        long logits = 3L * batch * length * config.vocabSize() * FLOAT;
        long teacher = distilled ? parameters * FLOAT + logits / 3 : 0;
        return BASE_BYTES + 7 * parameters * FLOAT + graphBytes(config, batch, length, config.numberOfLayers())
                + logits + teacher;
    }

    /** Bytes as MiB, rounded up, for messages. */
    public static long mebibytes(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }
}
