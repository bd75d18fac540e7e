package dev.cherryq.core.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames.Projection;
import dev.cherryq.core.scoring.CalibrationSamples;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The GPTQ Hessians of one decoder layer's seven linear weights, from a forward pass over every calibration sample
 * with the model as it currently is (the caller has already replaced earlier layers by their quantized weights, as
 * the GPTQ reference feeds each block the outputs of the quantized blocks before it). Projections that read the same
 * input share one accumulator: q, k and v read the attention-norm output; gate and up the MLP-norm output; o reads
 * the merged attention heads; down reads silu(gate) * up.
 */
public final class LayerHessians {

    private LayerHessians() {}

    /**
     * @return tensor name to accumulator for the seven projections of {@code layer}, in {@link Projection} order;
     *     q/k/v map to one instance and gate/up to another
     */
    public static Map<String, HessianAccumulator> collect(LlamaModel model, CalibrationSamples samples, int layer,
            Progress progress) {
        LlamaConfig config = model.config();
        if (layer < 0 || layer >= config.numberOfLayers()) {
            throw new IllegalArgumentException("layer " + layer + " outside [0, " + config.numberOfLayers() + ")");
        }
        HessianAccumulator attentionInput = new HessianAccumulator(config.hiddenSize());
        HessianAccumulator attentionOutput = new HessianAccumulator(config.queryDim());
        HessianAccumulator mlpInput = new HessianAccumulator(config.hiddenSize());
        HessianAccumulator mlpHidden = new HessianAccumulator(config.intermediateSize());
        Map<String, HessianAccumulator> byTensor = new LinkedHashMap<>();
        for (Projection projection : Projection.values()) {
            byTensor.put(projection.tensorName(layer), switch (projection) {
                case Q, K, V -> attentionInput;
                case O -> attentionOutput;
                case GATE, UP -> mlpInput;
                case DOWN -> mlpHidden;
            });
        }
        // one observation per distinct input: the first projection that reads it
        Map<String, HessianAccumulator> observed = Map.of(
                Projection.Q.tensorName(layer), attentionInput,
                Projection.O.tensorName(layer), attentionOutput,
                Projection.GATE.tensorName(layer), mlpInput,
                Projection.DOWN.tensorName(layer), mlpHidden);
        String lastInput = Projection.DOWN.tensorName(layer);
        model.setLinearInputObserver((name, input) -> {
            HessianAccumulator accumulator = observed.get(name);
            if (accumulator != null) {
                accumulator.add(input);
            }
            if (name.equals(lastInput)) {
                throw StopForward.INSTANCE; // the later layers and the head are not needed
            }
        });
        try {
            for (int index = 0; index < samples.count(); index++) {
                try (NDManager step = model.newStep()) {
                    NDArray ids = model.tokenArray(step, samples.sample(index), 1, samples.length()); // (1, L)
                    model.forward(step, ids);
                } catch (StopForward expected) {
                    // every input of the layer was seen
                }
                progress.update(index + 1, samples.count(), "layer " + layer + " inputs");
            }
        } finally {
            model.setLinearInputObserver(null);
        }
        return byTensor;
    }

    /**
     * Ends a forward pass once the layer's last input is seen, as the reference's Catcher module does by raising an
     * exception inside the model. Thrown from plain Java (the observer), so no native frame is crossed.
     */
    private static final class StopForward extends RuntimeException {

        static final StopForward INSTANCE = new StopForward();

        private StopForward() {
            super("layer inputs collected", null, false, false);
        }
    }
}
