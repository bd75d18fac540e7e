package dev.cherryq.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.core.train.LlamaInitializer;
import dev.cherryq.core.train.Pretrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code cherryq pretrain}: trains a small LLaMA from scratch, for demos and benchmarks. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = {"Pretrains a LLaMA from scratch on a text file (next-token loss, AdamW, cosine schedule) and",
                "writes an HF folder with the tokenizer and training.json (settings, losses, time)."})
final class PretrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--text", required = true, description = "UTF-8 training text")
    Path text;

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
        if (hidden % heads != 0) {
            throw new InvalidInputException("--hidden " + hidden + " must be divisible by --heads " + heads);
        }
        Tokenizer tokenizer = Tokenizer.load(tokenizerPath);
        int[] tokens = EvalCorpus.tokenizeText(text, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
        LlamaConfig config = new LlamaConfig(hidden, intermediate, layers, heads, kvHeads, hidden / heads,
                tokenizer.vocabSize(), sequenceLength, 1e-5, 10000.0, tied, 1, 2);
        Pretrainer.Settings settings = new Pretrainer.Settings(steps, batchSize, sequenceLength, learningRate, 0.02, 0.1,
                0f, 1.0f, seed);
        var out0 = spec.commandLine().getOut();
        out0.printf("pretraining %,d parameters on %,d tokens from %s%n", config.parameterCount(), tokens.length, text);
        Pretrainer.Result result;
        List<TensorData> tensors = new ArrayList<>();
        try (LlamaModel model = LlamaModel.fromTensors(config, LlamaInitializer.initialize(config, seed));
                ProgressBar bar = new ProgressBar("pretrain")) {
            result = Pretrainer.train(model, tokens, settings, bar);
            for (var entry : model.parameters().entrySet()) {
                tensors.add(TensorData.ofFloats(entry.getKey(), storage, entry.getValue().getShape().getShape(),
                        entry.getValue().toFloatArray()));
            }
        }
        HfModelWriter.write(out, config, null, tensors, Map.of("cherryq.trained_by", "cherryq pretrain"), Long.MAX_VALUE);
        HfModelWriter.copyTokenizer(tokenizerPath, out);
        ObjectNode provenance = Json.object();
        provenance.put("text", text.getFileName().toString());
        provenance.put("text_tokens", tokens.length);
        provenance.put("tokenizer", tokenizer.describe());
        provenance.put("parameters", config.parameterCount());
        ObjectNode hyper = provenance.putObject("settings");
        hyper.put("steps", steps).put("batch_size", batchSize).put("seq_len", sequenceLength).put("lr", learningRate)
                .put("warmup_fraction", settings.warmupFraction()).put("floor_fraction", settings.floorFraction())
                .put("grad_clip", settings.gradientClip()).put("seed", seed).put("dtype", storage.safetensorsName());
        provenance.put("tokens_seen", result.tokensSeen());
        provenance.put("seconds", result.seconds());
        provenance.put("final_loss_mean_last_50", result.losses().subList(Math.max(0, steps - 50), steps).stream()
                .mapToDouble(Float::doubleValue).average().orElse(Double.NaN));
        ArrayNode losses = provenance.putArray("losses");
        result.losses().forEach(losses::add);
        Files.writeString(out.resolve("training.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(provenance) + "\n");
        TrainingPlots.lossCurveOrWarn(result.losses().stream().map(Float::doubleValue).toList(),
                "Training loss, " + config.parameterCount() / 1000 + "k parameters, " + text.getFileName(),
                out.resolve("loss.png"));
        out0.printf("wrote %s: %d steps in %.0f s (%.0f tokens/s), mean loss of the last 50 steps %.4f%n", out, steps,
                result.seconds(), result.tokensSeen() / result.seconds(), provenance.get("final_loss_mean_last_50").asDouble());
        return 0;
    }
}
