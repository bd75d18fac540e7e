package dev.cherryq.core.model;

import java.util.HashMap;
import java.util.Map;

/** llama2.c weights under HF names but in llama2.c's own layout (wq/wk unpermuted), for the interleaved reference. */
final class RawLlama2cWeights {

    private RawLlama2cWeights() {}

    static Map<String, float[]> asHfNamesWithoutPermutation(Llama2cCheckpoint checkpoint) {
        LlamaConfig c = checkpoint.config();
        Map<String, float[]> raw = checkpoint.rawWeights();
        Map<String, float[]> out = new HashMap<>();
        int dim = c.hiddenSize();
        int kv = c.keyValueDim();
        int hidden = c.intermediateSize();
        out.put(LlamaTensorNames.EMBED_TOKENS, raw.get("token_embedding"));
        out.put(LlamaTensorNames.FINAL_NORM, raw.get("rms_final"));
        out.put(LlamaTensorNames.LM_HEAD, raw.get("wcls"));
        for (int l = 0; l < c.numberOfLayers(); l++) {
            out.put(LlamaTensorNames.attentionNorm(l), slice(raw.get("rms_att"), l, dim));
            out.put(LlamaTensorNames.mlpNorm(l), slice(raw.get("rms_ffn"), l, dim));
            out.put(LlamaTensorNames.Projection.Q.tensorName(l), slice(raw.get("wq"), l, dim * dim));
            out.put(LlamaTensorNames.Projection.K.tensorName(l), slice(raw.get("wk"), l, kv * dim));
            out.put(LlamaTensorNames.Projection.V.tensorName(l), slice(raw.get("wv"), l, kv * dim));
            out.put(LlamaTensorNames.Projection.O.tensorName(l), slice(raw.get("wo"), l, dim * dim));
            out.put(LlamaTensorNames.Projection.GATE.tensorName(l), slice(raw.get("w1"), l, hidden * dim));
            out.put(LlamaTensorNames.Projection.DOWN.tensorName(l), slice(raw.get("w2"), l, dim * hidden));
            out.put(LlamaTensorNames.Projection.UP.tensorName(l), slice(raw.get("w3"), l, hidden * dim));
        }
        return out;
    }

    private static float[] slice(float[] stacked, int layer, int size) {
        float[] out = new float[size];
        System.arraycopy(stacked, layer * size, out, 0, size);
        return out;
    }
}
