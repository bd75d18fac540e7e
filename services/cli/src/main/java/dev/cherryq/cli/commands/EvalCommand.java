package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.cli.console.OutputFormat;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.output.ProgressBar;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq eval}: perplexity of a model over text or token ids under the window protocol. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Perplexity of a model under the window protocol: consecutive non-overlapping windows of",
                "--seq-len ids (a trailing shorter window is dropped); each window predicts its positions 1..N-1.",
                "Text mode joins blank-line-separated documents with \"\\n\\n\", tokenizes once and puts one BOS",
                "at the start (the GPTQ convention)."})
public final class EvalCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", description = "UTF-8 text file; documents separated by blank lines")
        Path text;

        @Option(names = "--token-ids", description = "JSON array of token ids")
        Path tokenIds;
    }

    @Option(names = "--join", defaultValue = "gptq", description = {"text mode: gptq = join documents with a blank line, "
            + "one BOS at the start; bos = BOS before each document (llama2.c's training layout) (default: ${DEFAULT-VALUE})"})
    String join;

    @Option(names = "--seq-len", required = true, description = "window length N")
    int sequenceLength;

    @Option(names = "--batch-size", defaultValue = "4", description = "windows per forward pass (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Option(names = "--write-ids", description = "also write the evaluated token ids as a JSON array (what "
            + "--token-ids and scripts/llama-cpp-nll.mjs read)")
    Path writeIds;

    @Override
    public Integer call() {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelOptions.model)) {
            int[] ids = input.text != null ? EvalCorpus.tokenizeText(input.text,
                    checkpoint.tokenizer(modelOptions.tokenizer),
                    parseJoin(join))
                    : EvalCorpus.readTokenIds(input.tokenIds);
            PerplexityEvaluator.checkVocabulary(ids, checkpoint.config().vocabSize());
            if (writeIds != null) {
                writeIds(ids);
            }
            if (sequenceLength > checkpoint.config().maxPositionEmbeddings()) {
                throw new InvalidInputException("--seq-len " + sequenceLength + " exceeds the model's "
                        + "max_position_embeddings " + checkpoint.config().maxPositionEmbeddings());
            }
            TokenWindows windows = new TokenWindows(ids, sequenceLength);
            PerplexityResult result;
            try (LlamaModel llama = LlamaModel.load(checkpoint); ProgressBar bar = new ProgressBar("eval")) {
                result = new PerplexityEvaluator(llama, batchSize).evaluate(windows, bar);
            }
            print(result);
        }
        return 0;
    }

    /** The ids as one JSON array, written under .partial and moved into place. */
    private void writeIds(int[] ids) {
        Path partial = writeIds.resolveSibling(writeIds.getFileName() + ".partial");
        try {
            java.nio.file.Files.writeString(partial, Json.MAPPER.writeValueAsString(ids));
            java.nio.file.Files.move(partial, writeIds, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            throw new InvalidInputException("--write-ids " + writeIds + ": cannot write (" + e.getMessage() + ")");
        }
    }

    private static EvalCorpus.DocumentJoin parseJoin(String value) {
        return switch (value) {
            case "gptq" -> EvalCorpus.DocumentJoin.GPTQ;
            case "bos" -> EvalCorpus.DocumentJoin.BOS;
            default -> throw new InvalidInputException("--join '" + value + "' is not supported (supported: gptq, bos)");
        };
    }

    private void print(PerplexityResult result) {
        var out = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            ObjectNode json = Json.object();
            json.put("model", modelOptions.model.toString());
            json.put("mean_nll", result.meanNll());
            json.put("perplexity", result.perplexity());
            json.put("predicted_tokens", result.predictedTokens());
            json.put("windows", result.windows());
            json.put("seq_len", result.sequenceLength());
            json.put("join", input.text != null ? join : "token-ids");
            json.put("input_tokens", result.inputTokens());
            json.put("seconds", result.seconds());
            out.println(Json.line(json));
        } else {
            out.printf("model             %s%n", modelOptions.model);
            out.printf("windows           %d x %d tokens (%d input tokens, trailing %d dropped)%n", result.windows(),
                    result.sequenceLength(), result.inputTokens(),
                    result.inputTokens() - (long) result.windows() * result.sequenceLength());
            out.printf("predicted tokens  %d%n", result.predictedTokens());
            out.printf("mean NLL          %.6f nats%n", result.meanNll());
            out.printf("perplexity        %.4f%n", result.perplexity());
            out.printf("time              %.1f s (%.0f tokens/s)%n", result.seconds(),
                    result.windows() * (double) result.sequenceLength() / Math.max(result.seconds(), 1e-9));
        }
        out.flush();
    }
}
