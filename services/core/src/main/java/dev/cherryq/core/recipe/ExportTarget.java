package dev.cherryq.core.recipe;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.model.HfDenseExport;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaGgufExport;
import dev.cherryq.core.quant.GptqExport;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.tokenizer.TokenizerFiles;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * What a quantization job also writes for other engines, beside its packed folder (docs/EXPORTS.md): a GGUF file of
 * one ggml type for llama.cpp ({@code gguf:TYPE}), an HF folder of the dense weights ({@code hf-dense[:DTYPE]}), or
 * GPTQ's v1 layout ({@code gptq}). One place for its name, its parsing and its checks: {@code cherryq quantize
 * --export} and the fleet request's {@code export} both read it here, and the trainer writes it from the folder it
 * exported.
 *
 * @param ggmlType the GGUF type (GGUF only)
 * @param dtype the dense weights' dtype (hf-dense only)
 */
public record ExportTarget(Format format, GgmlType ggmlType, DType dtype) {

    /** The formats, by the name their wire form starts with. */
    public enum Format {
        GGUF("gguf"), HF_DENSE("hf-dense"), GPTQ("gptq");

        private final String wireName;

        Format(String wireName) {
            this.wireName = wireName;
        }

        public String wireName() {
            return wireName;
        }
    }

    /** The forms {@link #parse} takes, for messages. */
    public static final String FORMS = "gguf:TYPE (TYPE one of " + GgmlType.supportedNames()
            + "), hf-dense[:bf16|f16|f32] or gptq";

    /** Parses {@code gguf:TYPE}, {@code hf-dense[:DTYPE]} (bf16 when none is given) or {@code gptq}. */
    public static ExportTarget parse(String field, String value) {
        String[] parts = value.trim().split(":", 2);
        switch (parts[0]) {
            case "gguf" -> {
                GgmlType type = parts.length == 2 ? GgmlType.parse(parts[1]) : null;
                if (type != null) {
                    return new ExportTarget(Format.GGUF, type, null);
                }
            }
            case "hf-dense" -> {
                return new ExportTarget(Format.HF_DENSE, null, parts.length == 1 ? DType.BF16
                        : HfDenseExport.parseDtype(field + " hf-dense dtype", parts[1]));
            }
            case "gptq" -> {
                if (parts.length == 1) {
                    return new ExportTarget(Format.GPTQ, null, null);
                }
            }
            default -> { }
        }
        throw new InvalidInputException(field + " '" + value + "' is not supported (supported: " + FORMS + ")");
    }

    /** The wire form, as {@link #parse} reads it. */
    public String wireName() {
        return switch (format) {
            case GGUF -> "gguf:" + ggmlType.cliName();
            case HF_DENSE -> "hf-dense:" + dtype.safetensorsName().toLowerCase(Locale.ROOT);
            case GPTQ -> "gptq";
        };
    }

    /** Where it goes in a quantized folder: {@code model-TYPE.gguf}, {@code hf-dense-DTYPE/} or {@code gptq/}. */
    public String outputName() {
        return switch (format) {
            case GGUF -> "model-" + ggmlType.cliName() + ".gguf";
            case HF_DENSE -> "hf-dense-" + dtype.safetensorsName().toLowerCase(Locale.ROOT);
            case GPTQ -> "gptq";
        };
    }

    /** Refuses, before any compute, a model or grid the format cannot hold (each a one-line error). */
    public void requireHolds(String field, LlamaConfig config, QuantSpec spec) {
        switch (format) {
            case GGUF -> LlamaGgufExport.requireExportable(config);
            case GPTQ -> GptqExport.requireHolds(field + " gptq", config, spec);
            case HF_DENSE -> { }
        }
    }

    /**
     * Writes the export of a folder written by the pipeline's export step ({@link CherryqPipeline#export}) to
     * {@code out}; the tokenizer is the folder's own.
     */
    public Path write(Path quantizedFolder, Path out, Progress progress) {
        switch (format) {
            case GGUF -> {
                try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(quantizedFolder)) {
                    Path tokenizer = TokenizerFiles.forModel(null, quantizedFolder).orElseThrow(() ->
                            new InvalidInputException(quantizedFolder + ": no tokenizer in the model folder"));
                    return LlamaGgufExport.write(checkpoint, TokenizerVocabulary.read(tokenizer), ggmlType,
                            PackedModel.ggufGrid(quantizedFolder, ggmlType), out, progress).file();
                }
            }
            case HF_DENSE -> {
                try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(quantizedFolder)) {
                    return HfDenseExport.write(checkpoint, dtype, null, out, Map.of("cherryq.exported_from",
                            checkpoint.format()), Long.MAX_VALUE, progress).folder();
                }
            }
            case GPTQ -> {
                return GptqExport.write(quantizedFolder, null, out).folder();
            }
            default -> throw new IllegalStateException(format.name());
        }
    }
}
