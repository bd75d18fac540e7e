package dev.cherryq.launcher.local;

import dev.cherryq.core.format.DType;
import dev.cherryq.core.model.HfDenseExport;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model written as a plain HF folder of dense weights in bf16, f16 or f32 ({@link HfDenseExport}, docs/EXPORTS.md),
 * in this process: for a folder written by {@code cherryq quantize}, its dequantized weights (the grid's values with
 * the cherries in place), which any engine that loads HF checkpoints runs. {@code cherryq export --format hf-dense}
 * and {@code cherryq quantize --export hf-dense[:DTYPE]} run it.
 *
 * @param tokenizer the tokenizer file to copy, or null for the one in the model's folder
 */
public record HfDenseExportJob(Path model, Path tokenizer, DType dtype, Path out) {

    /** The {@code quantize --export} form of this export: {@code hf-dense} or {@code hf-dense:DTYPE}. */
    public static final String FORMAT = "hf-dense";

    /** Refuses, before any work, an output that exists and is not empty. */
    public void check() {
        HfDenseExport.requireFreshOutput(out);
    }

    /** Writes the folder and says what it holds. */
    public HfDenseExport.Result run(PrintWriter output) {
        check();
        HfDenseExport.Result result;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model); ProgressBar bar = new ProgressBar("export")) {
            result = HfDenseExport.write(checkpoint, dtype, tokenizer, out, Map.of("cherryq.exported_from",
                    checkpoint.format()), Long.MAX_VALUE, bar);
        }
        output.printf("wrote %s (HF folder, %s, %d tensors, %.2f MiB of weights; config.json without "
                + "quantization_config)%n", result.folder(), dtype.safetensorsName(), result.tensors(),
                result.bytes() / (1024.0 * 1024.0));
        if (result.cherries() > 0) {
            output.printf("the dense weights hold the source's %d cherries in place, rounded to %s with every other "
                    + "weight%n", result.cherries(), dtype.safetensorsName());
        }
        output.flush();
        return result;
    }
}
