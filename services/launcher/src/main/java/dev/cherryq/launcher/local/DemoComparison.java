package dev.cherryq.launcher.local;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.RtnQuantizer;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.launcher.DemoInputs;
import dev.cherryq.launcher.DemoJob;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.output.ProgressBar;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The demo's comparison in this process ({@code cherryq demo} is its front end): a model's perplexity on held-out
 * text at full precision, after RTN at each width, and after CherryQ (a {@link LocalJob} on the main job's recipe),
 * printed as one table and written as {@code results.md} and {@code results.json}.
 */
public final class DemoComparison {

    /**
     * What to compare.
     *
     * @param inputs the model, its held-out text and its calibration and training text
     * @param bits the RTN widths
     * @param cherryqBits CherryQ's width; 0 skips CherryQ
     * @param steps CherryQ's training steps
     * @param out where quantized models and results go
     */
    public record Settings(DemoInputs inputs, List<Integer> bits, int groupSize, QuantScheme scheme,
            int sequenceLength, int cherryqBits, int steps, Path out) {}

    private final List<Integer> bits;
    private final int groupSize;
    private final int sequenceLength;
    private final int cherryqBits;
    private final int steps;
    private final Path out;

    private DemoComparison(Settings settings) {
        this.bits = settings.bits();
        this.groupSize = settings.groupSize();
        this.sequenceLength = settings.sequenceLength();
        this.cherryqBits = settings.cherryqBits();
        this.steps = settings.steps();
        this.out = settings.out();
    }

    private record Row(String method, String format, PerplexityResult result) {}

    /** Evaluates every row, prints the table and writes it. */
    public static void run(Settings settings, PrintWriter console) throws IOException {
        new DemoComparison(settings).compare(settings.inputs(), settings.scheme(), console);
    }

    private void compare(DemoInputs inputs, QuantScheme quantScheme, PrintWriter console) throws IOException {
        Path modelPath = inputs.model();
        Path text = inputs.heldOut();
        Path training = inputs.training();
        int[] ids;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelPath)) {
            Tokenizer tokenizer = checkpoint.bundledTokenizer().map(Tokenizer::load).orElseThrow(() ->
                    new InvalidInputException(modelPath + ": the demo model folder has no tokenizer"));
            ids = EvalCorpus.tokenizeText(text, tokenizer, EvalCorpus.DocumentJoin.GPTQ);
            console.printf("demo: %s (%,d parameters), held-out text %s: %,d tokens, windows of %d%n", modelPath,
                    checkpoint.config().parameterCount(), text.getFileName(), ids.length, sequenceLength);
        }
        TokenWindows windows = new TokenWindows(ids, sequenceLength);
        List<Row> rows = new ArrayList<>();
        if (!Files.isRegularFile(training)) {
            throw new InvalidInputException(training + ": training text not found; pass --train-text FILE");
        }
        rows.add(new Row("fp", "bf16 weights, f32 compute", evaluate(modelPath, windows, "eval fp")));
        for (int width : bits) {
            QuantSpec quantSpec = new QuantSpec(width, groupSize, quantScheme);
            Path quantized = out.resolve("rtn-w" + width + "g" + groupSize);
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelPath);
                    ProgressBar bar = new ProgressBar("quantize " + width + "-bit")) {
                RtnQuantizer.quantize(checkpoint, quantSpec, quantized, bar);
            }
            rows.add(new Row("rtn", width + "-bit g" + groupSize + " " + quantScheme.cliName(),
                    evaluate(quantized, windows, "eval rtn " + width + "-bit")));
        }
        if (cherryqBits > 0) {
            Path quantized = out.resolve("cherryq-w" + cherryqBits + "g" + groupSize);
            QuantizationRecipe recipe = DemoJob.RECIPE.withBits(cherryqBits).withGroupSize(groupSize)
                    .withScheme(quantScheme).withSequenceLength(sequenceLength)
                    .withTraining(DemoJob.RECIPE.training().withSteps(steps)).validate();
            new LocalJob(recipe, modelPath, null, training, training, 50, quantized).run(console);
            rows.add(new Row("cherryq", recipe.describe(), evaluate(quantized, windows, "eval cherryq")));
        }
        report(rows, console);
    }

    private static PerplexityResult evaluate(Path modelPath, TokenWindows windows, String label) {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(modelPath); LlamaModel llama = LlamaModel.load(checkpoint);
                ProgressBar bar = new ProgressBar(label)) {
            return new PerplexityEvaluator(llama, 8).evaluate(windows, bar);
        }
    }

    private void report(List<Row> rows, PrintWriter console) throws IOException {
        double baseline = rows.get(0).result().meanNll();
        StringBuilder table = new StringBuilder();
        table.append("| method | format | mean NLL (nats) | perplexity | vs fp |\n|---|---|---:|---:|---:|\n");
        ArrayNode json = Json.MAPPER.createArrayNode();
        for (Row row : rows) {
            PerplexityResult r = row.result();
            table.append(String.format("| %s | %s | %.4f | %.3f | %+.2f%% |%n", row.method(), row.format(), r.meanNll(),
                    r.perplexity(), 100 * (Math.exp(r.meanNll() - baseline) - 1)));
            ObjectNode entry = json.addObject();
            entry.put("method", row.method()).put("format", row.format()).put("mean_nll", r.meanNll())
                    .put("perplexity", r.perplexity()).put("predicted_tokens", r.predictedTokens())
                    .put("seconds", r.seconds());
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("results.md"), table.toString());
        Files.writeString(out.resolve("results.json"), Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(json));
        console.println();
        console.print(table);
        console.printf("%nwrote %s and %s%n", out.resolve("results.md"), out.resolve("results.json"));
    }
}
