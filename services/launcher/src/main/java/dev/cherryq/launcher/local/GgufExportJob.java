package dev.cherryq.launcher.local;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.model.GgufArchitecture;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaGgufExport;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.tokenizer.TokenizerFiles;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model written as a GGUF file for llama.cpp ({@link LlamaGgufExport}, docs/EXPORTS.md), in this process, with what
 * the file holds said in a few lines: its llama.cpp architecture, what it computes differently (Mistral's window),
 * the tensors stored as F16, and what became of the cherries. A packed folder
 * on GPTQ's symmetric grid in groups of 32 goes to Q4_0 (4 bits) or Q8_0 (8 bits) exactly
 * ({@link PackedModel#ggufGrid}). {@code cherryq export} and {@code cherryq quantize --export} run it.
 *
 * @param tokenizer the tokenizer file, or null for the one in the model's folder
 */
public record GgufExportJob(Path model, Path tokenizer, GgmlType type, Path out) {

    /** Refuses, before any work, a folder as out or a model its llama.cpp architecture cannot hold. */
    public void check() {
        if (Files.isDirectory(out)) {
            throw new InvalidInputException("--out " + out + " is a folder; give a file name such as model.gguf");
        }
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            LlamaGgufExport.requireExportable(checkpoint.config());
        }
    }

    /** Writes the file and says what it holds. */
    public LlamaGgufExport.Result run(PrintWriter output) {
        check();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            Path tokenizerFile = TokenizerFiles.forModel(tokenizer, checkpoint.path()).orElseThrow(() ->
                    new InvalidInputException(model + ": no tokenizer in the model folder; give one with --tokenizer "
                            + "(tokenizer.json or a llama2.c tokenizer .bin)"));
            TokenizerVocabulary vocabulary = TokenizerVocabulary.read(tokenizerFile);
            LlamaGgufExport.Result result;
            try (ProgressBar bar = new ProgressBar("export")) {
                result = LlamaGgufExport.write(checkpoint, vocabulary, type, PackedModel.ggufGrid(model, type), out,
                        bar);
            }
            output.printf("wrote %s (%.2f MiB, %d tensors, %s; norms f32; llama.cpp architecture %s)%n",
                    result.file(), result.bytes() / (1024.0 * 1024.0), result.tensors(), type.cliName(),
                    GgufArchitecture.of(checkpoint.config().family()).ggufName());
            for (String caveat : LlamaGgufExport.caveats(checkpoint.config())) {
                output.printf("note: %s%n", caveat);
            }
            if (!result.storedAsF16().isEmpty()) {
                output.printf("stored as f16 (rows not a multiple of %d): %s%n", type.blockSize(),
                        String.join(", ", result.storedAsF16()));
            }
            if (result.exactGrid()) {
                output.printf("the linear weights in %s are the packed grid itself (sym, groups of 32: each group's "
                        + "scale is the block's), not rounded again; GGUF has no place for cherries: %d in them are "
                        + "dropped (each takes its code's level), %d in tensors stored as f16 are kept%n",
                        type.cliName(), result.cherriesDropped(),
                        Math.max(0, result.cherriesInSource() - result.cherriesDropped()));
            } else if (result.cherriesInSource() > 0) {
                output.printf("note: the source has %d cherries; GGUF has no place for them: the dense weights include "
                        + "them%s%n", result.cherriesInSource(), type.isQuantized()
                        ? (", and " + type.cliName() + " re-rounds them with the other weights (those in f16 "
                                + "tensors keep their f16 value)")
                        : (type == GgmlType.F16 ? ", kept as f16 values (exact: cherries are stored as f16)"
                                : ", kept exactly"));
            }
            output.flush();
            return result;
        }
    }
}
