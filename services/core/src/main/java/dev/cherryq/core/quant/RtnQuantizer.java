package dev.cherryq.core.quant;

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

    private RtnQuantizer() {}

    public static PackedModel.Summary quantize(LlamaCheckpoint checkpoint, QuantSpec spec, Path outputFolder,
            Progress progress) {
        PackedModel.Summary summary = PackedModel.write(outputFolder, checkpoint.config(), checkpoint.tensors(), spec,
                CherrySet.empty(), PackedModel.quantizationConfig("rtn", spec, CherrySet.empty()), Map.of("cherryq.method", "rtn"),
                progress);
        checkpoint.bundledTokenizer().ifPresent(tokenizer -> HfModelWriter.copyTokenizer(tokenizer, outputFolder));
        return summary;
    }
}
