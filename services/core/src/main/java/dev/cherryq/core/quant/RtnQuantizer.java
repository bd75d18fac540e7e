package dev.cherryq.core.quant;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.Progress;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.selection.CherrySet;
import java.nio.file.Path;
import java.util.Map;

/**
 * The round-to-nearest baseline: every decoder linear weight (q, k, v, o, gate, up, down) is group-quantized with no
 * training and no cherries; embeddings, norms and lm_head stay as they are. Written as a {@link PackedModel}.
 */
public final class RtnQuantizer {

    private static final ObjectMapper JSON = new ObjectMapper();

    private RtnQuantizer() {}

    public static PackedModel.Summary quantize(LlamaCheckpoint checkpoint, QuantSpec spec, Path outputFolder,
            Progress progress) {
        PackedModel.Summary summary = PackedModel.write(outputFolder, checkpoint.config(), checkpoint.tensors(), spec,
                CherrySet.empty(), quantizationConfig("rtn", spec, CherrySet.empty()), Map.of("cherryq.method", "rtn"),
                progress);
        checkpoint.bundledTokenizer().ifPresent(tokenizer -> HfModelWriter.copyTokenizer(tokenizer, outputFolder));
        return summary;
    }

    /** The {@code quantization_config} entry describing a method and format. */
    public static ObjectNode quantizationConfig(String method, QuantSpec spec, CherrySet cherries) {
        ObjectNode extra = JSON.createObjectNode();
        ObjectNode quantization = extra.putObject("quantization_config");
        quantization.put("quant_method", "cherryq");
        quantization.put("method", method);
        quantization.put("bits", spec.bits());
        quantization.put("group_size", spec.groupSize());
        quantization.put("scheme", spec.scheme().cliName());
        quantization.put("cherry_fraction", cherries.isEmpty() ? 0 : cherries.fraction());
        quantization.put("criterion", cherries.isEmpty() ? "none" : cherries.criterion().cliName());
        quantization.put("cherries", cherries.totalCherries());
        quantization.putArray("modules").add("q_proj").add("k_proj").add("v_proj").add("o_proj").add("gate_proj")
                .add("up_proj").add("down_proj");
        return extra;
    }
}
