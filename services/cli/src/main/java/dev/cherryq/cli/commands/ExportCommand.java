package dev.cherryq.cli.commands;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.model.HfDenseExport;
import dev.cherryq.launcher.local.GgufExportJob;
import dev.cherryq.launcher.local.GptqExportJob;
import dev.cherryq.launcher.local.HfDenseExportJob;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq export}: a model to a format other engines load: GGUF for llama.cpp, or a plain HF folder of dense
 * weights (docs/EXPORTS.md).
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes a model as a GGUF file that llama.cpp loads, its tokenizer included, in the llama.cpp",
                "architecture of its family: llama (LLaMA, Llama-3, Mistral: llama.cpp ignores Mistral's sliding",
                "window, so the file holds for contexts up to it), qwen2, qwen3. Norms and biases stay F32; q8_0 and q4_0 store matrices whose rows are not a multiple of 32 as F16.",
                "GGUF has no place for cherries: a quantized model's dense weights include them, and q8_0/q4_0",
                "round them with the rest, except a model quantized with --scheme sym in groups of 32 at 4 bits",
                "(q4_0) or 8 bits (q8_0), whose grid is stored exactly, its cherries dropped.",
                "--format hf-dense writes an HF folder (config.json without quantization_config, safetensors in",
                "--dtype, the tokenizer) of the dense weights, a quantized model's cherries in place.",
                "--format gptq writes a quantized folder (--scheme sym or asym, 2/4/8 bits) in GPTQ's v1 layout",
                "(qweight, qzeros, scales, g_idx), its cherries in a separate cherries.safetensors. See",
                "docs/EXPORTS.md."})
public final class ExportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--format", required = true, description = "export format: gguf (a file for llama.cpp), hf-dense "
            + "(an HF folder of the dense, dequantized weights) or gptq (GPTQ's v1 layout of a quantized folder)")
    String format;

    @Option(names = "--type", description = "gguf: f32, f16, q8_0 or q4_0 (default: f16)")
    String type;

    @Option(names = "--dtype", description = "hf-dense: bf16, f16 or f32 (default: bf16)")
    String dtype;

    @Option(names = "--out", required = true, description = "output file for gguf (e.g. model.gguf); a new (or empty) "
            + "folder for hf-dense and gptq")
    Path out;

    @Override
    public Integer call() {
        if (format.equals(HfDenseExportJob.FORMAT)) {
            if (type != null) {
                throw new InvalidInputException("--type is for --format gguf; hf-dense takes --dtype bf16|f16|f32");
            }
            DType storage = dtype == null ? DType.BF16 : HfDenseExport.parseDtype("--dtype", dtype);
            new HfDenseExportJob(modelOptions.model, modelOptions.tokenizer, storage, out)
                    .run(spec.commandLine().getOut());
            return 0;
        }
        if (format.equals(GptqExportJob.FORMAT)) {
            if (type != null || dtype != null) {
                throw new InvalidInputException("--format gptq takes neither --type nor --dtype (the codes are the "
                        + "packed folder's own; scales f16)");
            }
            new GptqExportJob(modelOptions.model, modelOptions.tokenizer, out).run(spec.commandLine().getOut());
            return 0;
        }
        if (!format.equals("gguf")) {
            throw new InvalidInputException("--format '" + format + "' is not supported (supported: gguf, hf-dense, "
                    + "gptq)");
        }
        if (dtype != null) {
            throw new InvalidInputException("--dtype is for --format hf-dense; gguf takes --type f32|f16|q8_0|q4_0");
        }
        String type = this.type == null ? "f16" : this.type;
        GgmlType storage = GgmlType.parse(type);
        if (storage == null) {
            throw new InvalidInputException("--type '" + type + "' is not supported (supported: "
                    + GgmlType.supportedNames() + ")");
        }
        new GgufExportJob(modelOptions.model, modelOptions.tokenizer, storage, out).run(spec.commandLine().getOut());
        return 0;
    }
}
