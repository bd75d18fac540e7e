package dev.cherryq.core.model;

import java.util.Map;

/**
 * A naive, plain-Java LLaMA forward in double precision, written straight from the math (and llama2.c's run.c)
 * with no DJL: the independent reference the DJL runtime is tested against. Supports both RoPE layouts:
 * HF rotate-half pairs (i, i + d/2) and llama2.c interleaved pairs (2i, 2i+1).
 * <p>
 * The families' differences are written here again as loops, from the HF modeling files and not from the main
 * code: Qwen2's q/k/v biases (added after each projection), Qwen3's RMSNorm over each head of q and k (before
 * RoPE), Llama-3's frequency bands (modeling_rope_utils._compute_llama3_parameters) and Mistral's sliding window
 * (a query sees keys s with t - W < s <= t). Only the flags and numbers come from the config's family.
 */
public final class ReferenceLlama {

    public enum RopeLayout { HALVES, INTERLEAVED }

    private final LlamaConfig config;
    private final Map<String, float[]> weights;
    private final RopeLayout layout;

    /** @param weights HF tensor names to row-major f32 arrays */
    public ReferenceLlama(LlamaConfig config, Map<String, float[]> weights, RopeLayout layout) {
        this.config = config;
        this.weights = weights;
        this.layout = layout;
    }

    /** The token embeddings [position][hidden], the first block's input. */
    public double[][] embed(int[] tokens) {
        int seq = tokens.length;
        int dim = config.hiddenSize();
        double[][] x = new double[seq][];
        float[] embedding = weights.get(LlamaTensorNames.EMBED_TOKENS);
        for (int t = 0; t < seq; t++) {
            x[t] = new double[dim];
            for (int i = 0; i < dim; i++) {
                x[t][i] = embedding[tokens[t] * dim + i];
            }
        }
        return x;
    }

    /** One decoder block on its input [position][hidden]: its output, the next block's input. */
    public double[][] block(double[][] x, int layer) {
        x = x.clone();
        int seq = x.length;
        int dim = config.hiddenSize();
        int headDim = config.headDim();
        double[][] q = new double[seq][];
        double[][] k = new double[seq][];
        double[][] v = new double[seq][];
        for (int t = 0; t < seq; t++) {
            double[] normed = rmsNorm(x[t], weights.get(LlamaTensorNames.attentionNorm(layer)));
            q[t] = matVec(weights.get(LlamaTensorNames.Projection.Q.tensorName(layer)), normed, config.queryDim());
            k[t] = matVec(weights.get(LlamaTensorNames.Projection.K.tensorName(layer)), normed, config.keyValueDim());
            v[t] = matVec(weights.get(LlamaTensorNames.Projection.V.tensorName(layer)), normed, config.keyValueDim());
            if (config.family().queryKeyValueBiases()) {
                String attention = "model.layers." + layer + ".self_attn.";
                addInPlace(q[t], weights.get(attention + "q_proj.bias"));
                addInPlace(k[t], weights.get(attention + "k_proj.bias"));
                addInPlace(v[t], weights.get(attention + "v_proj.bias"));
            }
            if (config.family().queryKeyNorms()) {
                String attention = "model.layers." + layer + ".self_attn.";
                normalizeHeads(q[t], config.numberOfHeads(), headDim, weights.get(attention + "q_norm.weight"));
                normalizeHeads(k[t], config.numberOfKeyValueHeads(), headDim, weights.get(attention + "k_norm.weight"));
            }
            rotate(q[t], t, config.numberOfHeads(), headDim);
            rotate(k[t], t, config.numberOfKeyValueHeads(), headDim);
        }
        for (int t = 0; t < seq; t++) {
            double[] attended = new double[config.queryDim()];
            for (int h = 0; h < config.numberOfHeads(); h++) {
                int kvHead = h / config.queriesPerKeyValueHead();
                // the first key the query sees: 0, or with a sliding window W the (W-1)-th before t
                int window = config.family().slidingWindow();
                int first = window > 0 ? Math.max(0, t - window + 1) : 0;
                double[] scores = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = first; s <= t; s++) {
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) {
                        dot += q[t][h * headDim + i] * k[s][kvHead * headDim + i];
                    }
                    scores[s] = dot / Math.sqrt(headDim);
                    max = Math.max(max, scores[s]);
                }
                double sum = 0;
                for (int s = first; s <= t; s++) {
                    scores[s] = Math.exp(scores[s] - max);
                    sum += scores[s];
                }
                for (int s = first; s <= t; s++) {
                    for (int i = 0; i < headDim; i++) {
                        attended[h * headDim + i] += scores[s] / sum * v[s][kvHead * headDim + i];
                    }
                }
            }
            double[] projected = matVec(weights.get(LlamaTensorNames.Projection.O.tensorName(layer)), attended, dim);
            double[] afterAttention = new double[dim];
            for (int i = 0; i < dim; i++) {
                afterAttention[i] = x[t][i] + projected[i];
            }
            double[] normed = rmsNorm(afterAttention, weights.get(LlamaTensorNames.mlpNorm(layer)));
            int hidden = config.intermediateSize();
            double[] gate = matVec(weights.get(LlamaTensorNames.Projection.GATE.tensorName(layer)), normed, hidden);
            double[] up = matVec(weights.get(LlamaTensorNames.Projection.UP.tensorName(layer)), normed, hidden);
            for (int i = 0; i < hidden; i++) {
                gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            double[] down = matVec(weights.get(LlamaTensorNames.Projection.DOWN.tensorName(layer)), gate, dim);
            for (int i = 0; i < dim; i++) {
                afterAttention[i] += down[i];
            }
            x[t] = afterAttention;
        }
        return x;
    }

    /** Logits [position][vocab] for one sequence. */
    public double[][] logits(int[] tokens) {
        int seq = tokens.length;
        double[][] x = embed(tokens);
        for (int layer = 0; layer < config.numberOfLayers(); layer++) {
            x = block(x, layer);
        }
        float[] head = weights.get(config.tieWordEmbeddings() ? LlamaTensorNames.EMBED_TOKENS : LlamaTensorNames.LM_HEAD);
        double[][] logits = new double[seq][];
        for (int t = 0; t < seq; t++) {
            logits[t] = matVec(head, rmsNorm(x[t], weights.get(LlamaTensorNames.FINAL_NORM)), config.vocabSize());
        }
        return logits;
    }

    /** Mean next-token NLL over positions 1..n-1. */
    public double meanNll(int[] tokens) {
        double[][] logits = logits(tokens);
        double total = 0;
        for (int t = 0; t + 1 < tokens.length; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (double value : logits[t]) {
                max = Math.max(max, value);
            }
            double sum = 0;
            for (double value : logits[t]) {
                sum += Math.exp(value - max);
            }
            total += Math.log(sum) + max - logits[t][tokens[t + 1]];
        }
        return total / (tokens.length - 1);
    }

    private double[] rmsNorm(double[] x, float[] weight) {
        double meanSquare = 0;
        for (double value : x) {
            meanSquare += value * value;
        }
        meanSquare /= x.length;
        double inverse = 1.0 / Math.sqrt(meanSquare + config.rmsNormEps());
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * inverse * weight[i];
        }
        return out;
    }

    /** W x for W stored [rows, x.length] row-major. */
    private static double[] matVec(float[] w, double[] x, int rows) {
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < x.length; c++) {
                sum += w[r * x.length + c] * x[c];
            }
            out[r] = sum;
        }
        return out;
    }

    private static void addInPlace(double[] x, float[] bias) {
        for (int i = 0; i < x.length; i++) {
            x[i] += bias[i];
        }
    }

    /** RMSNorm of each head's slice [h * headDim, (h + 1) * headDim) with one weight of headDim, in place. */
    private void normalizeHeads(double[] x, int heads, int headDim, float[] weight) {
        for (int h = 0; h < heads; h++) {
            double meanSquare = 0;
            for (int i = 0; i < headDim; i++) {
                meanSquare += x[h * headDim + i] * x[h * headDim + i];
            }
            double inverse = 1.0 / Math.sqrt(meanSquare / headDim + config.rmsNormEps());
            for (int i = 0; i < headDim; i++) {
                x[h * headDim + i] = x[h * headDim + i] * inverse * weight[i];
            }
        }
    }

    /** Inverse frequency of pair i: theta^(-2i/d), through Llama-3's bands when the config has rope_scaling. */
    private double frequency(int i, int headDim) {
        double frequency = 1.0 / Math.pow(config.ropeTheta(), 2.0 * i / headDim);
        ModelFamily.Llama3RopeScaling scaling = config.family().ropeScaling();
        if (scaling == null) {
            return frequency;
        }
        double context = scaling.originalMaxPositionEmbeddings();
        double wavelength = 2 * Math.PI / frequency;
        if (wavelength < context / scaling.highFreqFactor()) {
            return frequency;
        }
        if (wavelength > context / scaling.lowFreqFactor()) {
            return frequency / scaling.factor();
        }
        double smooth = (context / wavelength - scaling.lowFreqFactor())
                / (scaling.highFreqFactor() - scaling.lowFreqFactor());
        return (1 - smooth) * frequency / scaling.factor() + smooth * frequency;
    }

    private void rotate(double[] vector, int position, int heads, int headDim) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double frequency = frequency(i, headDim);
                double cos = Math.cos(position * frequency);
                double sin = Math.sin(position * frequency);
                int a = h * headDim + (layout == RopeLayout.HALVES ? i : 2 * i);
                int b = h * headDim + (layout == RopeLayout.HALVES ? i + half : 2 * i + 1);
                double first = vector[a];
                double second = vector[b];
                vector[a] = first * cos - second * sin;
                vector[b] = first * sin + second * cos;
            }
        }
    }
}
