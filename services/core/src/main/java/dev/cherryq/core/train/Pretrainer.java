package dev.cherryq.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Next-token pretraining of a {@link LlamaModel} on one token stream: each step samples {@code batchSize} windows of
 * {@code sequenceLength} tokens at seeded random offsets (each predicts its positions 1..N-1, as in evaluation), minimises the mean NLL with AdamW under the cosine
 * schedule, and clips the global gradient norm. One GradientCollector per step (DJL allows one per process).
 */
public final class Pretrainer {

    /** Hyperparameters of one run; validated on construction. */
    public record Settings(int steps, int batchSize, int sequenceLength, float learningRate, double warmupFraction,
            double floorFraction, float weightDecay, float gradientClip, long seed) {
        public Settings {
            if (steps < 1) {
                throw new InvalidInputException("steps " + steps + " must be at least 1");
            }
            if (batchSize < 1 || sequenceLength < 2) {
                throw new InvalidInputException("batch_size must be >= 1 and seq_len >= 2");
            }
            if (!(learningRate > 0)) {
                throw new InvalidInputException("lr " + learningRate + " must be positive");
            }
        }
    }

    /** Loss after each step, and the wall time. */
    public record Result(List<Float> losses, double seconds, long tokensSeen) {}

    /** Called with the model after every {@code every}-th step (and after the last); may save or evaluate it. */
    @FunctionalInterface
    public interface Checkpoints {
        Checkpoints NONE = (step, model) -> {};

        void at(int step, LlamaModel model);
    }

    private Pretrainer() {}

    public static Result train(LlamaModel model, int[] tokens, Settings settings, Progress progress) {
        return train(model, tokens, settings, progress, Integer.MAX_VALUE, Checkpoints.NONE);
    }

    /** As {@link #train(LlamaModel, int[], Settings, Progress)}, handing the model to {@code checkpoints} every {@code every} steps. */
    public static Result train(LlamaModel model, int[] tokens, Settings settings, Progress progress, int every,
            Checkpoints checkpoints) {
        if (every < 1) {
            throw new InvalidInputException("checkpoint interval " + every + " must be at least 1 step");
        }
        DjlRuntime.prepareComputeThread();
        int window = settings.sequenceLength();
        if (tokens.length < window + 1) {
            throw new InvalidInputException("training text has " + tokens.length + " tokens; one window of seq_len "
                    + settings.sequenceLength() + " needs " + (window + 1));
        }
        model.attachGradients();
        CosineSchedule schedule = new CosineSchedule(settings.learningRate(), settings.warmupFraction(),
                settings.floorFraction(), settings.steps());
        SplittableRandom random = new SplittableRandom(settings.seed());
        List<Float> losses = new ArrayList<>();
        long started = System.nanoTime();
        try (NDManager optimizerManager = DjlRuntime.newManager();
                AdamW optimizer = new AdamW(optimizerManager, 0.9f, 0.95f, 1e-8f, settings.weightDecay())) {
            for (int step = 0; step < settings.steps(); step++) {
                long[] batch = new long[settings.batchSize() * window];
                for (int row = 0; row < settings.batchSize(); row++) {
                    int start = random.nextInt(tokens.length - window);
                    for (int i = 0; i < window; i++) {
                        batch[row * window + i] = tokens[start + i];
                    }
                }
                float loss;
                try (NDManager step0 = model.newStep()) {
                    try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                        NDArray meanNll = model.nextTokenNll(step0, model.tokenArray(step0, batch, settings.batchSize(),
                                window)).mean();
                        collector.backward(meanNll);
                        loss = meanNll.getFloat();
                    }
                    clipGradients(model, settings.gradientClip(), step0);
                }
                optimizer.step(model.parameters(), schedule.at(step));
                zeroGradients(model);
                losses.add(loss);
                progress.update(step + 1, settings.steps(), String.format("loss %.4f", loss));
                if ((step + 1) % every == 0 || step + 1 == settings.steps()) {
                    checkpoints.at(step + 1, model);
                }
            }
        }
        return new Result(losses, (System.nanoTime() - started) / 1e9,
                (long) settings.steps() * settings.batchSize() * (settings.sequenceLength() - 1));
    }

    /** Scales all gradients so their global L2 norm is at most {@code maxNorm} (no-op when maxNorm <= 0). */
    public static void clipGradients(LlamaModel model, float maxNorm, NDManager scope) {
        clipGradients(model.parameters().values(), maxNorm, scope);
    }

    /** As above, over the given parameters, which must all require gradients. */
    public static void clipGradients(java.util.Collection<NDArray> parameters, float maxNorm, NDManager scope) {
        if (maxNorm <= 0) {
            return;
        }
        double squared = 0;
        List<NDArray> gradients = new ArrayList<>();
        for (NDArray parameter : parameters) {
            NDArray gradient = parameter.getGradient();
            gradient.attach(scope);
            gradients.add(gradient);
            squared += gradient.square().sum().getFloat();
        }
        double norm = Math.sqrt(squared);
        if (norm > maxNorm) {
            float factor = (float) (maxNorm / (norm + 1e-6));
            gradients.forEach(g -> g.muli(factor));
        }
    }

    /** Zeroes every parameter's gradient in place (DJL accumulates across backward calls). */
    public static void zeroGradients(LlamaModel model) {
        zeroGradients(model.parameters().values());
    }

    /** Zeroes the gradients of the given parameters, which must all require gradients. */
    public static void zeroGradients(java.util.Collection<NDArray> parameters) {
        try (NDManager scope = DjlRuntime.newManager()) {
            for (NDArray parameter : parameters) {
                NDArray gradient = parameter.getGradient();
                gradient.attach(scope);
                gradient.subi(gradient);
            }
        }
    }
}
