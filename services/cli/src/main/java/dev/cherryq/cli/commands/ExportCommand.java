package dev.cherryq.cli.commands;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaGgufExport;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.tokenizer.TokenizerFiles;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq export}: a model to a format other engines load; today GGUF for llama.cpp (docs/EXPORTS.md). */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes a model as a GGUF file that llama.cpp loads (architecture 'llama', its tokenizer",
                "included). Norms stay F32; q8_0 and q4_0 store matrices whose rows are not a multiple of 32 as F16.",
                "GGUF has no place for cherries: a quantized model's dense weights include them, and q8_0/q4_0",
                "round them with the rest, except a model quantized with --scheme sym in groups of 32 at 4 bits",
                "(q4_0) or 8 bits (q8_0), whose grid is stored exactly, its cherries dropped. See docs/EXPORTS.md."})
public final class ExportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--format", required = true, description = "export format: gguf")
    String format;

    @Option(names = "--type", defaultValue = "f16", description = "f32, f16, q8_0 or q4_0 (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--out", required = true, description = "output file, e.g. model.gguf")
    Path out;

    @Override
    public Integer call() {
        if (!format.equals("gguf")) {
            throw new InvalidInputException("--format '" + format + "' is not supported (supported: gguf)");
        }
        GgmlType storage = GgmlType.parse(type);
        if (storage == null) {
            throw new InvalidInputException("--type '" + type + "' is not supported (supported: "
                    + GgmlType.supportedNames() + ")");
        }
        if (Files.isDirectory(out)) {
            throw new InvalidInputException("--out " + out + " is a folder; give a file name such as model.gguf");
        }
        Path model = modelOptions.model;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            LlamaGgufExport.requireExportable(checkpoint.config());
            Path tokenizerFile = TokenizerFiles.forModel(modelOptions.tokenizer, checkpoint.path()).orElseThrow(() ->
                    new InvalidInputException(model + ": no tokenizer in the model folder; give one with --tokenizer "
                            + "(tokenizer.json or a llama2.c tokenizer .bin)"));
            TokenizerVocabulary vocabulary = TokenizerVocabulary.read(tokenizerFile);
            LlamaGgufExport.Result result;
            try (ProgressBar bar = new ProgressBar("export")) {
                result = LlamaGgufExport.write(checkpoint, vocabulary, storage, PackedModel.ggufGrid(model, storage),
                        out, bar);
            }
            PrintWriter output = spec.commandLine().getOut();
            output.printf("wrote %s (%.2f MiB, %d tensors, %s; norms f32)%n", result.file(),
                    result.bytes() / (1024.0 * 1024.0), result.tensors(), storage.cliName());
            if (!result.storedAsF16().isEmpty()) {
                output.printf("stored as f16 (rows not a multiple of %d): %s%n", storage.blockSize(),
                        String.join(", ", result.storedAsF16()));
            }
            if (result.exactGrid()) {
                output.printf("the linear weights in %s are the packed grid itself (sym, groups of 32: each group's "
                        + "scale is the block's), not rounded again; GGUF has no place for cherries: %d in them are "
                        + "dropped (each takes its code's level), %d in tensors stored as f16 are kept%n",
                        storage.cliName(), result.cherriesDropped(),
                        Math.max(0, result.cherriesInSource() - result.cherriesDropped()));
            } else if (result.cherriesInSource() > 0) {
                output.printf("note: the source has %d cherries; GGUF has no place for them: the dense weights include "
                        + "them%s%n", result.cherriesInSource(), storage.isQuantized()
                        ? (", and " + storage.cliName() + " re-rounds them with the other weights (those in f16 "
                                + "tensors keep their f16 value)")
                        : (storage == GgmlType.F16 ? ", kept as f16 values (exact: cherries are stored as f16)"
                                : ", kept exactly"));
            }
            output.flush();
        }
        return 0;
    }
}
