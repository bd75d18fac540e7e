package dev.cherryq.launcher.local;

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
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A small LLaMA pretrained from scratch in this process ({@link Pretrainer}: next-token loss, AdamW, cosine schedule),
 * written as an HF folder with its tokenizer, {@code training.json} (settings, losses, validation at each checkpoint,
 * time) and a loss curve. {@code cherryq pretrain} runs it; the messages name the command-line flags.
 *
 * @param texts training texts, joined in order
 * @param validationText text scored at every checkpoint (mean NLL), never trained on; or null
 * @param validationWindows windows of {@code sequenceLength} scored from the validation text
 * @param checkpointEvery steps between checkpoints kept in {@code out/checkpoints/step-N}, 0 = never
 * @param storage the stored dtype: F32, F16 or BF16
 */
public record PretrainJob(List<Path> texts, Path validationText, int validationWindows, int checkpointEvery,
        Path tokenizerPath, Shape shape, int sequenceLength, int batchSize, int steps, float learningRate, long seed,
        DType storage, Path out) {

    /** The model's size: hidden and MLP widths, decoder layers, query and key-value heads, tied lm_head. */
    public record Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, boolean tied) {
        public Shape {
            if (hidden % heads != 0) {
                throw new InvalidInputException("--hidden " + hidden + " must be divisible by --heads " + heads);
            }
        }
    }

    public PretrainJob {
        if (checkpointEvery < 0) {
            throw new InvalidInputException("--checkpoint-every " + checkpointEvery + " must be 0 (never) or positive");
        }
    }

    /** Trains, writes the folder (and the checkpoints), {@code training.json} and {@code loss.png}. */
    public void run(PrintWriter console) throws IOException {
        Tokenizer tokenizer = Tokenizer.load(tokenizerPath);
        int[] tokens = texts.stream().map(t -> EvalCorpus.tokenizeText(t, tokenizer, EvalCorpus.DocumentJoin.GPTQ))
                .flatMapToInt(Arrays::stream).toArray();
        TokenWindows validation = validationText == null ? null : validationWindows(tokenizer);
        LlamaConfig config = new LlamaConfig(shape.hidden(), shape.intermediate(), shape.layers(), shape.heads(),
                shape.kvHeads(), shape.hidden() / shape.heads(), tokenizer.vocabSize(), sequenceLength, 1e-5, 10000.0,
                shape.tied(), 1, 2);
        Pretrainer.Settings settings = new Pretrainer.Settings(steps, batchSize, sequenceLength, learningRate, 0.02, 0.1,
                0f, 1.0f, seed);
        console.printf("pretraining %,d parameters on %,d tokens from %s%n", config.parameterCount(), tokens.length,
                texts);
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
                    Path folder = out.resolve("checkpoints").resolve(String.format("step-%06d", step));
                    writeModel(folder, config, trained);
                }
            });
            writeModel(out, config, model);
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
        console.printf("wrote %s: %d steps in %.0f s (%.0f tokens/s), mean loss of the last 50 steps %.4f%n", out, steps,
                result.seconds(), result.tokensSeen() / result.seconds(), provenance.get("final_loss_mean_last_50").asDouble());
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
        return new TokenWindows(Arrays.copyOf(ids, used - used % sequenceLength), sequenceLength);
    }

    /** Writes the model's parameters as an HF folder with the tokenizer, in the stored dtype. */
    private void writeModel(Path folder, LlamaConfig config, LlamaModel model) {
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
