package dev.cherryq.cli.commands;

import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.tokenizer.BpeTrainer;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq train-tokenizer}: a LLaMA-style BPE tokenizer.json trained on a text file. */
@Command(name = "train-tokenizer", mixinStandardHelpOptions = true,
        description = "Trains a LLaMA-style BPE vocabulary with byte fallback and writes an HF tokenizer.json.")
public final class TrainTokenizerCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--text", required = true, description = "UTF-8 training text; documents separated by blank lines")
    Path text;

    @Option(names = "--vocab-size", defaultValue = "1024", description = "vocabulary size (default: ${DEFAULT-VALUE})")
    int vocabSize;

    @Option(names = "--max-chars", defaultValue = "3000000", description = "train on at most this many characters (default: ${DEFAULT-VALUE})")
    int maxCharacters;

    @Option(names = "--out", required = true, description = "output tokenizer.json")
    Path out;

    @Override
    public Integer call() throws IOException {
        var documents = EvalCorpus.readDocuments(text);
        var sample = new java.util.ArrayList<String>();
        long characters = 0;
        for (String document : documents) {
            if (characters >= maxCharacters) {
                break;
            }
            sample.add(document);
            characters += document.length();
        }
        var json = BpeTrainer.train(sample, vocabSize, 20, new ProgressBar("train-tokenizer"));
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        Files.writeString(out, Json.MAPPER.writeValueAsString(json));
        Tokenizer tokenizer = Tokenizer.load(out);
        int[] ids = tokenizer.encode(String.join("\n\n", sample.subList(0, Math.min(50, sample.size()))));
        spec.commandLine().getOut().printf("wrote %s: %s, %.2f characters per token on the training sample%n", out,
                tokenizer.describe(), (double) String.join("\n\n", sample.subList(0, Math.min(50, sample.size()))).length()
                        / ids.length);
        return 0;
    }
}
