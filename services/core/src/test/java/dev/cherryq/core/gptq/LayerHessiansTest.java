package dev.cherryq.core.gptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.LlamaTensorNames.Projection;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.scoring.CalibrationSamples;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The Hessians collected through the model's forward pass against 2/n X^T X built from layer 0's inputs recomputed
 * by hand in double (embedding lookup, RMSNorm, rotate-half RoPE, causal grouped-query attention, SiLU-gated MLP).
 */
class LayerHessiansTest {

    /** Entry (i, j) within 1e-4 of max(|H_ij|, sqrt(H_ii H_jj)): 1e-4 relative on the Gram matrix's own scale. */
    private static final double RELATIVE = 1e-4;

    @Test
    void shouldEqualNaiveGramMatricesOfTheFourInputsOfLayerZero() {
        DjlRuntime.ensureOffline();
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = RandomLlama.weights(config, 5);
        int[] tokens = new Random(6).ints(400, 0, config.vocabSize()).toArray();
        CalibrationSamples samples = new CalibrationSamples(tokens, 4, 16, 9);
        Map<String, HessianAccumulator> collected;
        try (LlamaModel model = LlamaModel.fromTensors(config, RandomLlama.tensors(config, weights))) {
            DjlRuntime.prepareComputeThread();
            collected = LayerHessians.collect(model, samples, 0, Progress.NONE);
        }
        // inputs that are read by several projections share one accumulator
        assertSame(collected.get(Projection.Q.tensorName(0)), collected.get(Projection.K.tensorName(0)));
        assertSame(collected.get(Projection.Q.tensorName(0)), collected.get(Projection.V.tensorName(0)));
        assertSame(collected.get(Projection.GATE.tensorName(0)), collected.get(Projection.UP.tensorName(0)));
        NaiveLayerZero naive = new NaiveLayerZero(config, weights);
        for (int i = 0; i < samples.count(); i++) {
            naive.add(samples.sample(i));
        }
        assertGramEquals(naive.attentionInput, naive.tokens, collected.get(Projection.Q.tensorName(0)), "q/k/v input");
        assertGramEquals(naive.attentionOutput, naive.tokens, collected.get(Projection.O.tensorName(0)), "o input");
        assertGramEquals(naive.mlpInput, naive.tokens, collected.get(Projection.GATE.tensorName(0)), "gate/up input");
        assertGramEquals(naive.mlpHidden, naive.tokens, collected.get(Projection.DOWN.tensorName(0)), "down input");
    }

    private static void assertGramEquals(double[][] sum, int tokens, HessianAccumulator accumulator, String what) {
        int width = sum.length;
        assertEquals(width, accumulator.width(), what + " width");
        assertEquals(tokens, accumulator.inputs(), what + " token count");
        double[] hessian = accumulator.hessian();
        for (int i = 0; i < width; i++) {
            for (int j = 0; j < width; j++) {
                double expected = 2.0 * sum[i][j] / tokens;
                double scale = Math.max(Math.abs(expected), 2.0 * Math.sqrt(sum[i][i] * sum[j][j]) / tokens);
                assertEquals(expected, hessian[i * width + j], RELATIVE * scale, what + " H[" + i + "][" + j + "]");
            }
        }
    }

    /** Layer 0 of the decoder in plain double arithmetic, summing x x^T of each linear layer's input. */
    private static final class NaiveLayerZero {

        private final LlamaConfig config;
        private final Map<String, float[]> weights;
        final double[][] attentionInput;
        final double[][] attentionOutput;
        final double[][] mlpInput;
        final double[][] mlpHidden;
        int tokens;

        NaiveLayerZero(LlamaConfig config, Map<String, float[]> weights) {
            this.config = config;
            this.weights = weights;
            this.attentionInput = new double[config.hiddenSize()][config.hiddenSize()];
            this.attentionOutput = new double[config.queryDim()][config.queryDim()];
            this.mlpInput = new double[config.hiddenSize()][config.hiddenSize()];
            this.mlpHidden = new double[config.intermediateSize()][config.intermediateSize()];
        }

        void add(long[] ids) {
            int seq = ids.length;
            int hidden = config.hiddenSize();
            int headDim = config.headDim();
            double[][] x = new double[seq][hidden];
            double[][] q = new double[seq][];
            double[][] k = new double[seq][];
            double[][] v = new double[seq][];
            float[] embedding = weights.get(LlamaTensorNames.EMBED_TOKENS);
            for (int t = 0; t < seq; t++) {
                for (int i = 0; i < hidden; i++) {
                    x[t][i] = embedding[(int) ids[t] * hidden + i];
                }
                // attention rmsnorm: the input of q, k and v
                double[] normed = rmsNorm(x[t], weights.get(LlamaTensorNames.attentionNorm(0)));
                addOuter(attentionInput, normed);
                q[t] = rope(matVec(Projection.Q, normed), t, config.numberOfHeads());
                k[t] = rope(matVec(Projection.K, normed), t, config.numberOfKeyValueHeads());
                v[t] = matVec(Projection.V, normed);
            }
            for (int t = 0; t < seq; t++) {
                // causal softmax attention per head; kv head h / (heads per kv head)
                double[] attended = new double[config.queryDim()];
                for (int h = 0; h < config.numberOfHeads(); h++) {
                    int kvHead = h / config.queriesPerKeyValueHead();
                    double[] scores = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s <= t; s++) {
                        for (int i = 0; i < headDim; i++) {
                            scores[s] += q[t][h * headDim + i] * k[s][kvHead * headDim + i];
                        }
                        scores[s] /= Math.sqrt(headDim);
                        max = Math.max(max, scores[s]);
                    }
                    double total = 0;
                    for (int s = 0; s <= t; s++) {
                        scores[s] = Math.exp(scores[s] - max);
                        total += scores[s];
                    }
                    for (int s = 0; s <= t; s++) {
                        for (int i = 0; i < headDim; i++) {
                            attended[h * headDim + i] += scores[s] / total * v[s][kvHead * headDim + i];
                        }
                    }
                }
                // the input of o; then the residual
                addOuter(attentionOutput, attended);
                double[] projected = matVec(Projection.O, attended);
                double[] residual = new double[hidden];
                for (int i = 0; i < hidden; i++) {
                    residual[i] = x[t][i] + projected[i];
                }
                // mlp rmsnorm: the input of gate and up; silu(gate) * up: the input of down
                double[] mlpIn = rmsNorm(residual, weights.get(LlamaTensorNames.mlpNorm(0)));
                addOuter(mlpInput, mlpIn);
                double[] gate = matVec(Projection.GATE, mlpIn);
                double[] up = matVec(Projection.UP, mlpIn);
                double[] activated = new double[gate.length];
                for (int i = 0; i < gate.length; i++) {
                    activated[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                }
                addOuter(mlpHidden, activated);
            }
            tokens += seq;
        }

        private double[] rmsNorm(double[] x, float[] weight) {
            double meanSquare = 0;
            for (double value : x) {
                meanSquare += value * value / x.length;
            }
            double inverse = 1 / Math.sqrt(meanSquare + config.rmsNormEps());
            double[] out = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                out[i] = x[i] * inverse * weight[i];
            }
            return out;
        }

        private double[] matVec(Projection projection, double[] x) {
            float[] w = weights.get(projection.tensorName(0));
            int rows = w.length / x.length;
            double[] out = new double[rows];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < x.length; c++) {
                    out[r] += w[r * x.length + c] * x[c];
                }
            }
            return out;
        }

        /** Rotate-half RoPE: pairs (i, i + d/2) of each head turn by position * theta^(-2i/d). */
        private double[] rope(double[] x, int position, int heads) {
            int headDim = config.headDim();
            int half = headDim / 2;
            double[] out = x.clone();
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double angle = position * Math.pow(config.ropeTheta(), -2.0 * i / headDim);
                    double a = x[h * headDim + i];
                    double b = x[h * headDim + i + half];
                    out[h * headDim + i] = a * Math.cos(angle) - b * Math.sin(angle);
                    out[h * headDim + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
                }
            }
            return out;
        }

        private static void addOuter(double[][] sum, double[] x) {
            for (int i = 0; i < x.length; i++) {
                for (int j = 0; j < x.length; j++) {
                    sum[i][j] += x[i] * x[j];
                }
            }
        }
    }
}
