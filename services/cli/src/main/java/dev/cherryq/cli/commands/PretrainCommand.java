package dev.cherryq.cli.commands;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.DType;
import dev.cherryq.launcher.local.PretrainJob;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq pretrain}: options -> {@link PretrainJob}, a small LLaMA trained from scratch (demos, benchmarks). */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = {"Pretrains a LLaMA from scratch on a text file (next-token loss, AdamW, cosine schedule) and",
                "writes an HF folder with the tokenizer and training.json (settings, losses, time)."})
public final class PretrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--text", required = true, description = "UTF-8 training text; repeat to train on several, joined in order")
    List<Path> texts;

    @Option(names = "--validation-text", description = "UTF-8 text scored at every checkpoint (mean NLL), never trained on")
    Path validationText;

    @Option(names = "--validation-windows", defaultValue = "32",
            description = "windows of --seq-len scored from --validation-text (default: ${DEFAULT-VALUE})")
    int validationWindows;

    @Option(names = "--checkpoint-every", defaultValue = "0",
            description = "every N steps, score --validation-text and keep the weights in OUT/checkpoints/step-N (0: never)")
    int checkpointEvery;

    @Option(names = "--tokenizer", required = true, description = "tokenizer.json or llama2.c tokenizer .bin")
    Path tokenizerPath;

    @Option(names = "--hidden", defaultValue = "128", description = "hidden size (default: ${DEFAULT-VALUE})") int hidden;
    @Option(names = "--intermediate", defaultValue = "344", description = "MLP width (default: ${DEFAULT-VALUE})") int intermediate;
    @Option(names = "--layers", defaultValue = "4", description = "decoder layers (default: ${DEFAULT-VALUE})") int layers;
    @Option(names = "--heads", defaultValue = "4", description = "query heads (default: ${DEFAULT-VALUE})") int heads;
    @Option(names = "--kv-heads", defaultValue = "2", description = "key-value heads, dividing --heads (default: ${DEFAULT-VALUE})") int kvHeads;
    @Option(names = "--tied", defaultValue = "false", description = "tie lm_head to the embeddings") boolean tied;
    @Option(names = "--seq-len", defaultValue = "256", description = "training window and max positions (default: ${DEFAULT-VALUE})") int sequenceLength;
    @Option(names = "--batch-size", defaultValue = "16", description = "windows per step (default: ${DEFAULT-VALUE})") int batchSize;
    @Option(names = "--steps", defaultValue = "1000", description = "training steps (default: ${DEFAULT-VALUE})") int steps;
    @Option(names = "--lr", defaultValue = "3e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})") float learningRate;
    @Option(names = "--seed", defaultValue = "1", description = "seed for initialisation and batches (default: ${DEFAULT-VALUE})") long seed;
    @Option(names = "--dtype", defaultValue = "BF16", description = "stored dtype: F32, F16 or BF16 (default: ${DEFAULT-VALUE})") String dtype;

    @Option(names = "--out", required = true, description = "output folder")
    Path out;

    @Override
    public Integer call() throws IOException {
        DType storage = DType.fromSafetensorsName(dtype.toUpperCase(java.util.Locale.ROOT));
        if (storage != DType.F32 && storage != DType.F16 && storage != DType.BF16) {
            throw new InvalidInputException("--dtype '" + dtype + "' is not supported (supported: F32, F16, BF16)");
        }
        new PretrainJob(texts, validationText, validationWindows, checkpointEvery, tokenizerPath,
                new PretrainJob.Shape(hidden, intermediate, layers, heads, kvHeads, tied), sequenceLength, batchSize,
                steps, learningRate, seed, storage, out).run(spec.commandLine().getOut());
        return 0;
    }
}
