package dev.cherryq.core.scoring;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.train.Pretrainer;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Scores the impact of every decoder linear weight (q, k, v, o, gate, up, down): for each calibration sample,
 * one forward and backward of the summed next-token loss at batch size 1, then grad^2 is added to the running sum
 * (Cui and Wang, 2024, Sec. 3: the diagonal of the empirical Fisher information). Embeddings, norms and lm_head
 * are not candidates.
 */
public final class ImpactScorer {

    private ImpactScorer() {}

    /** A partial over samples [from, to) of the calibration set. */
    public static FisherPartial score(LlamaModel model, CalibrationSamples samples, int from, int to, Progress progress) {
        DjlRuntime.prepareComputeThread();
        if (from < 0 || to > samples.count() || from >= to) {
            throw new IllegalArgumentException("sample range [" + from + ", " + to + ") outside [0, " + samples.count() + ")");
        }
        Map<String, NDArray> linear = new LinkedHashMap<>();
        for (String name : LlamaTensorNames.linearWeights(model.config())) {
            linear.put(name, model.parameters().get(name));
        }
        linear.values().forEach(p -> p.setRequiresGradient(true));
        BitSet done = new BitSet();
        try (NDManager manager = DjlRuntime.newManager(); FisherAccumulator accumulator = new FisherAccumulator(manager)) {
            for (int index = from; index < to; index++) {
                try (NDManager step = model.newStep();
                        GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                    NDArray ids = model.tokenArray(step, samples.sample(index), 1, samples.length()); // (1, L)
                    // the summed token loss of one sample
                    collector.backward(model.nextTokenNll(step, ids).sum());
                }
                accumulator.addSquaredGradients(linear);
                Pretrainer.zeroGradients(linear.values());
                done.set(index);
                progress.update(index - from + 1, to - from, "samples");
            }
            return new FisherPartial(fingerprint(model, samples), done, accumulator.sums(), accumulator.shapes());
        }
    }

    static String fingerprint(LlamaModel model, CalibrationSamples samples) {
        return fingerprint(model.config(), samples);
    }

    static String fingerprint(dev.cherryq.core.model.LlamaConfig config, CalibrationSamples samples) {
        return "model:" + Integer.toHexString(config.hashCode()) + ":" + samples.fingerprint();
    }
}
