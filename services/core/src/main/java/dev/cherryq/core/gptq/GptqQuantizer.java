package dev.cherryq.core.gptq;

import ai.djl.ndarray.NDArray;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.LlamaTensorNames.Projection;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.selection.CherrySet;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GPTQ over a whole LLaMA model (Frantar et al., 2023; the reference llama.py sequential loop): decoder layer by
 * decoder layer, the Hessians of its seven linear weights are collected from the calibration samples run through
 * the model whose earlier layers are already quantized, then each weight is solved by {@link GptqSolver}. Embeddings,
 * norms and lm_head are left as they are.
 *
 * <p>The model is changed in place: when it returns, every decoder linear weight holds GPTQ's latent weights,
 * whose round-to-nearest under the same spec and cherry mask gives GPTQ's codes, so the RTN export and QAT take
 * them as they take any weights. While the sweep runs, quantized layers hold their dequantized weights, so later
 * layers see quantized inputs. If it throws, the model is left partly quantized: reload it.
 *
 * <p>All forwards run without gradients, on the calling thread, with the model's linear-weight transform as it is
 * set (the identity, for GPTQ proper); the model's input observer is taken for the duration and reset to none.
 */
public final class GptqQuantizer {

    private static final Logger LOG = LoggerFactory.getLogger(GptqQuantizer.class);

    private GptqQuantizer() {}

    /**
     * One linear weight's outcome.
     *
     * @param rtnError tr((W - Q) H (W - Q)^T) of round-to-nearest (cherries kept), H from this run's inputs
     * @param gptqError the same for GPTQ
     * @param pinnedPositions weights pinned because they define a group's scale or range
     * @param deadColumns inputs that were zero on every calibration token (their weights set to zero)
     */
    public record LayerResult(String name, int rows, int columns, double rtnError, double gptqError, int pinnedPositions,
            long cherries, int deadColumns, double seconds) {

        /** gptqError / rtnError; 1 when RTN is exact. */
        public double errorRatio() {
            return rtnError == 0 ? 1 : gptqError / rtnError;
        }
    }

    /** The outcome and its provenance: format, settings, calibration set and cherries. */
    public record Result(QuantSpec spec, GptqSettings settings, String calibrationFingerprint, String cherryFingerprint,
            long calibrationTokens, List<LayerResult> layers, double seconds) {

        public double totalRtnError() {
            return layers.stream().mapToDouble(LayerResult::rtnError).sum();
        }

        public double totalGptqError() {
            return layers.stream().mapToDouble(LayerResult::gptqError).sum();
        }

        public long pinnedPositions() {
            return layers.stream().mapToLong(LayerResult::pinnedPositions).sum();
        }

        public long cherries() {
            return layers.stream().mapToLong(LayerResult::cherries).sum();
        }
    }

    public static Result quantize(LlamaModel model, CalibrationSamples samples, QuantSpec spec, CherrySet cherries,
            GptqSettings settings, Progress progress) {
        DjlRuntime.prepareComputeThread();
        long start = System.nanoTime();
        Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(model.config());
        checkCherries(cherries, shapes);
        Map<String, float[]> latents = new LinkedHashMap<>();
        List<LayerResult> results = new ArrayList<>();
        for (int layer = 0; layer < model.config().numberOfLayers(); layer++) {
            // inputs of this layer, with the layers before it already quantized
            Map<String, HessianAccumulator> accumulators = LayerHessians.collect(model, samples, layer, Progress.NONE);
            Map<HessianAccumulator, double[]> hessians = new IdentityHashMap<>();
            for (Projection projection : Projection.values()) {
                String name = projection.tensorName(layer);
                long layerStart = System.nanoTime();
                NDArray parameter = model.parameters().get(name);
                int rows = (int) shapes.get(name)[0];
                int columns = (int) shapes.get(name)[1];
                float[] weights = parameter.toFloatArray(); // (rows, columns)
                double[] hessian = hessians.computeIfAbsent(accumulators.get(name), HessianAccumulator::hessian);
                CherrySet.Layer cherryLayer = cherries.layers().get(name);
                boolean[] mask = cherryLayer == null || cherryLayer.perRow() == 0 ? null : cherryLayer.mask();
                GptqSolver.Solution solution;
                try {
                    solution = GptqSolver.quantize(weights, rows, columns, hessian, spec, mask, settings);
                } catch (InvalidInputException e) {
                    throw new InvalidInputException(name + ": " + e.getMessage(), e);
                }
                // later layers see this one quantized
                parameter.set(solution.dequantized());
                latents.put(name, solution.latent());
                LayerResult result = new LayerResult(name, rows, columns, solution.rtnError(), solution.gptqError(),
                        solution.pinnedPositions(), cherryLayer == null ? 0 : (long) rows * cherryLayer.perRow(),
                        solution.deadColumns(), (System.nanoTime() - layerStart) / 1e9);
                results.add(result);
                LOG.debug("GPTQ {}: weighted error {} (RTN {}), {} pinned, {} dead inputs", name, result.gptqError(),
                        result.rtnError(), result.pinnedPositions(), result.deadColumns());
                progress.update(results.size(), shapes.size(), name);
            }
            List<LayerResult> block = results.subList(results.size() - Projection.values().length, results.size());
            LOG.info("GPTQ layer {} of {}: weighted error {} (RTN {})", layer + 1, model.config().numberOfLayers(),
                    block.stream().mapToDouble(LayerResult::gptqError).sum(),
                    block.stream().mapToDouble(LayerResult::rtnError).sum());
        }
        // the model keeps the latent weights, which round to GPTQ's codes
        latents.forEach((name, latent) -> model.parameters().get(name).set(latent));
        return new Result(spec, settings, samples.fingerprint(), cherries.fingerprint(),
                (long) samples.count() * samples.length(), List.copyOf(results), (System.nanoTime() - start) / 1e9);
    }

    /** Every cherry layer must name a decoder linear weight and match its shape. */
    private static void checkCherries(CherrySet cherries, Map<String, long[]> shapes) {
        cherries.layers().forEach((name, layer) -> {
            long[] shape = shapes.get(name);
            if (shape == null) {
                throw new InvalidInputException("cherries: '" + name + "' is not a decoder linear weight of this model");
            }
            if (layer.rows() != shape[0] || layer.columnsInMatrix() != shape[1]) {
                throw new InvalidInputException("cherries: '" + name + "' is " + layer.rows() + "x"
                        + layer.columnsInMatrix() + " but the model's weight is " + shape[0] + "x" + shape[1]
                        + ": the cherries were selected for a different model");
            }
        });
    }
}
