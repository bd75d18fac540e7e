package dev.cherryq.launcher.local;

import dev.cherryq.core.quant.GptqExport;
import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * A packed quantized folder written in GPTQ's v1 checkpoint layout ({@link GptqExport}, docs/EXPORTS.md), in this
 * process, with what the folder holds said in one line. {@code cherryq export --format gptq} and
 * {@code cherryq quantize --export gptq} run it.
 *
 * @param tokenizer the tokenizer file to copy, or null for the one in the model's folder
 */
public record GptqExportJob(Path model, Path tokenizer, Path out) {

    /** The {@code quantize --export} form of this export. */
    public static final String FORMAT = "gptq";

    /** Writes the folder and says what it holds. */
    public GptqExport.Result run(PrintWriter output) {
        GptqExport.Result result = GptqExport.write(model, tokenizer, out);
        output.printf("wrote %s (GPTQ v1 layout, %d layers, %.2f MiB)%s%n", result.folder(), result.layers(),
                result.bytes() / (1024.0 * 1024.0), result.cherries() > 0 ? "; the " + result.cherries()
                        + " cherries are in " + GptqExport.CHERRY_FILE + ", which GPTQ loaders ignore" : "");
        output.flush();
        return result;
    }
}
