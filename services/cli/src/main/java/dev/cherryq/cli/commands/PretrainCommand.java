package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.core.train.LlamaInitializer;
import dev.cherryq.core.train.Pretrainer;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.output.ProgressBar;
import dev.cherryq.launcher.output.TrainingPlots;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq pretrain}: trains a small LLaMA from scratch, for demos and benchmarks. */
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
        if (hidden % heads != 0) {
            throw new InvalidInputException("--hidden " + hidden + " must be divisible by --heads " + heads);
        }
        if (checkpointEvery < 0) {
            throw new InvalidInputException("--checkpoint-every " + checkpointEvery + " must be 0 (never) or positive");
        }
        Tokenizer tokenizer = Tokenizer.load(tokenizerPath);
        int[] tokens = texts.stream().map(t -> EvalCorpus.tokenizeText(t, tokenizer, EvalCorpus.DocumentJoin.GPTQ))
                .flatMapToInt(java.util.Arrays::stream).toArray();
        TokenWindows validation = validationText == null ? null : validationWindows(tokenizer);
        LlamaConfig config = new LlamaConfig(hidden, intermediate, layers, heads, kvHeads, hidden / heads,
                tokenizer.vocabSize(), sequenceLength, 1e-5, 10000.0, tied, 1, 2);
        Pretrainer.Settings settings = new Pretrainer.Settings(steps, batchSize, sequenceLength, learningRate, 0.02, 0.1,
                0f, 1.0f, seed);
        var out0 = spec.commandLine().getOut();
        out0.printf("pretraining %,d parameters on %,d tokens from %s%n", config.parameterCount(), tokens.length, texts);
        Pretrainer.Result result;
        ArrayNode checkpoints = Json.MAPPER.createArrayNode();
        try (LlamaModel model = LlamaModel.fromTensors(config, LlamaInitializer.initialize(config, seed));
                ProgressBar bar = new ProgressBar("pretrain")) {
            int every = checkpointEvery == 0 ? Integer.MAX_VALUE : checkpointEvery;
            result = Pretrainer.train(model, tokens, settings, bar, every, (step, trained) -> {
                ObjectNode checkpoint = checkpoints.addObject().put("step", step)
                        .put("tokens_seen", (long) step * batchSize * (sequenceLength - 1))
                        .put("epochs", (double) step * batchSize * sequenceLength / tokens.length);
                if (validation != null) {
                    checkpoint.put("validation_nll", new PerplexityEvaluator(trained, 8)
                            .evaluate(validation, Progress.NONE).meanNll());
                }
                if (checkpointEvery > 0 && step < steps) {
                    writeModel(out.resolve("checkpoints").resolve(String.format("step-%06d", step)), config, trained,
                            storage);
                }
            });
            writeModel(out, config, model, storage);
        }
        ObjectNode provenance = Json.object();
        ArrayNode textNames = provenance.putArray("texts");
        texts.forEach(t -> textNames.add(t.getFileName().toString()));
        if (validationText != null) {
            provenance.put("validation_text", validationText.getFileName().toString());
            provenance.put("validation_tokens", validation.predictedTokens());
        }
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
        provenance.set("checkpoints", checkpoints);
        ArrayNode losses = provenance.putArray("losses");
        result.losses().forEach(losses::add);
        Files.writeString(out.resolve("training.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(provenance) + "\n");
        TrainingPlots.lossCurveOrWarn(result.losses().stream().map(Float::doubleValue).toList(),
                "Training loss, " + config.parameterCount() / 1000 + "k parameters, " + textNames.size() + " text(s)",
                out.resolve("loss.png"));
        out0.printf("wrote %s: %d steps in %.0f s (%.0f tokens/s), mean loss of the last 50 steps %.4f%n", out, steps,
                result.seconds(), result.tokensSeen() / result.seconds(), provenance.get("final_loss_mean_last_50").asDouble());
        return 0;
    }

    /** The first --validation-windows windows of --validation-text; refuses text too short for one window. */
    private TokenWindows validationWindows(Tokenizer tokenizer) {
        if (validationWindows < 1) {
            throw new InvalidInputException("--validation-windows " + validationWindows + " must be at least 1");
        }
        int[] ids = EvalCorpus.tokenizeText(validationText, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
        int used = Math.min(ids.length, validationWindows * sequenceLength);
        if (used < sequenceLength) {
            throw new InvalidInputException("--validation-text " + validationText + " has " + ids.length
                    + " tokens, fewer than one window of --seq-len " + sequenceLength);
        }
        return new TokenWindows(java.util.Arrays.copyOf(ids, used - used % sequenceLength), sequenceLength);
    }

    /** Writes the model's parameters as an HF folder with the tokenizer, in the stored dtype. */
    private void writeModel(Path folder, LlamaConfig config, LlamaModel model, DType storage) {
        List<TensorData> tensors = new ArrayList<>();
        for (var entry : model.parameters().entrySet()) {
            tensors.add(TensorData.ofFloats(entry.getKey(), storage, entry.getValue().getShape().getShape(),
                    entry.getValue().toFloatArray()));
        }
        HfModelWriter.write(folder, config, null, tensors, Map.of("cherryq.trained_by", "cherryq pretrain"),
                Long.MAX_VALUE);
        HfModelWriter.copyTokenizer(tokenizerPath, folder);
    }
}
