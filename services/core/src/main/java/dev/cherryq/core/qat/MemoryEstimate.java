package dev.cherryq.core.qat;

import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;

/**
 * What a training task holds in memory, estimated before it starts, so that a worker with a memory budget can
 * refuse a task it cannot fit instead of dying in it. f32 everywhere (DJL computes in f32). The end-to-end terms
 * were measured phase by phase on a 60.8M-parameter model ({@code TrainerMemoryProbe}, docs/SCALING.md, "Where the
 * end-to-end trainer's memory goes"); P is the model's parameters, P_lin its decoder linear weights':
 * <ul>
 *   <li>held for the whole run ({@link #endToEndStateBytes}): the weights, their gradients and AdamW's two moments
 *       (16 P, native); the best weights on validation ({@link BestWeights}, 4 P, float[] in the heap); the cherry
 *       masks (4 P_lin, f32 native, one per linear weight with cherries) and the cherry set they come from
 *       (P_lin, boolean[] in the heap); with distillation the teacher (4 P);</li>
 *   <li>during a training step ({@link #trainingStepBytes}): the fake-quantized linear weights, which the graph keeps
 *       for the backward (4 P_lin), the autograd graph of one micro-batch ({@link #graphBytes}), and the logits,
 *       their log-probabilities and gradient (3 x vocabulary per token) with the teacher's log-probabilities;</li>
 *   <li>during validation ({@link #validationBytes}), instead of a step: the fake-quantized weights again and every
 *       intermediate of a forward over a validation batch of {@link #VALIDATION_BATCH} windows, which the
 *       evaluator's step keeps until the batch ends: the graph's size at batch 8, four times a training step's at
 *       batch 2;</li>
 *   <li>block-wise training: one block's state, 7 x 4 bytes per block parameter (value, gradient, two moments, the
 *       best copy, the cherry mask, the fake-quantized weight), its graph, and the captured inputs and targets of
 *       every window, training and validation, as f32 (the files are f16; a block task reads them into the heap),
 *       or, streamed, of one micro-batch (not re-measured since the fake quantizer's temporaries were freed);</li>
 *   <li>the JVM and the engine: {@link #BASE_BYTES}, a round figure.</li>
 * </ul>
 * Not counted: what the allocator keeps. glibc keeps freed native memory in the process, so the resident set does
 * not fall back after a phase's peak, and the heap grows with garbage (old best copies, a checkpoint's buffers) up
 * to what G1 allows; measured at 60.8M parameters, the process peaked about 20% above this estimate for that reason
 * (docs/SCALING.md). Give a budget that margin.
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

    /** Windows per forward when a trainer scores its validation windows (CherryqPipeline's and BlockwiseTrainer's). */
    static final int VALIDATION_BATCH = 8;

    /** The decoder linear weights' parameters, the ones that are fake-quantized and have cherry masks. */
    static long linearParameters(LlamaConfig config) {
        long count = 0;
        for (long[] shape : LlamaTensorNames.linearWeightShapes(config).values()) {
            count += shape[0] * shape[1];
        }
        return count;
    }

    /**
     * What an end-to-end trainer holds for the whole run: weights, gradients, AdamW's two moments (16 bytes per
     * parameter, native), the best weights' copy (4, heap), the cherry masks (4 per linear parameter, native) and the
     * cherry set (1 per linear parameter, heap), and with distillation the teacher (4 per parameter).
     */
    static long endToEndStateBytes(LlamaConfig config, boolean distilled) {
        long parameters = config.parameterCount();
        long linear = linearParameters(config);
        long trained = 4 * parameters * FLOAT; // value, gradient, first and second moment
        long best = parameters * FLOAT;
        long cherries = linear * FLOAT + linear; // f32 masks, and the boolean[] they are made from
        long teacher = distilled ? parameters * FLOAT : 0;
        return trained + best + cherries + teacher;
    }

    /**
     * One training step's own arrays: the fake-quantized linear weights the graph keeps for the backward, the graph
     * of one micro-batch through every block, and the logits with their log-probabilities and gradient (and the
     * teacher's log-probabilities when distilling).
     */
    static long trainingStepBytes(LlamaConfig config, int batch, int length, boolean distilled) {
        long logits = (3L + (distilled ? 1 : 0)) * batch * length * config.vocabSize() * FLOAT;
        return linearParameters(config) * FLOAT + graphBytes(config, batch, length, config.numberOfLayers()) + logits;
    }

    /**
     * Scoring the validation windows between steps: the fake-quantized weights and every intermediate of one
     * validation batch's forward, which the evaluator's step holds until the batch is scored (no autograd to free
     * them earlier), and its logits and log-probabilities.
     */
    static long validationBytes(LlamaConfig config, int length) {
        long logits = 2L * VALIDATION_BATCH * length * config.vocabSize() * FLOAT;
        return linearParameters(config) * FLOAT
                + graphBytes(config, VALIDATION_BATCH, length, config.numberOfLayers()) + logits;
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

    /**
     * An end-to-end training task over the whole model, with {@code distilled} for the teacher: what it holds for
     * the run, and the larger of a training step's and a validation batch's arrays (they never coexist: the step's
     * graph is freed by its backward before validation runs). Counts the cherry masks as if every linear weight had
     * cherries (CherryQ's; the plain QAT baseline has none: 5 bytes per linear parameter less).
     */
    public static long endToEndTask(LlamaConfig config, int batch, int length, boolean distilled) {
        return BASE_BYTES + endToEndStateBytes(config, distilled)
                + Math.max(trainingStepBytes(config, batch, length, distilled), validationBytes(config, length));
    }

    /** Bytes as MiB, rounded up, for messages. */
    public static long mebibytes(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }
}
