package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.launcher.output.LinePlot;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cherryq command end to end, in process: outputs, files written, exit codes and one-line errors. */
class CliTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    record Run(int exitCode, String out, String err) {
        JsonNode lastJsonLine() throws IOException {
            String[] lines = out.strip().split("\n");
            return JSON.readTree(lines[lines.length - 1]);
        }
    }

    static Run cherryq(Object... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] strings = java.util.Arrays.stream(args).map(String::valueOf).toArray(String[]::new);
        int code = CherryqCommand.execute(strings, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    private Path randomModel() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = RandomLlama.weights(config, 3);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.get(tensor.name())));
        }
        Path folder = dir.resolve("random-model");
        HfModelWriter.write(folder, config, null, tensors, Map.of(), Long.MAX_VALUE);
        return folder;
    }

    private Path tokenIds(int count, int vocab) throws IOException {
        Path file = dir.resolve("ids.json");
        Files.writeString(file, JSON.writeValueAsString(new Random(8).ints(count, 0, vocab).toArray()));
        return file;
    }

    @Test
    void shouldPrintJsonResultOnTheLastLineForTokenIds() throws IOException {
        Path model = randomModel();
        Run run = cherryq("eval", "--model", model, "--token-ids", tokenIds(100, 67), "--seq-len", 32, "--format", "json");
        assertEquals(0, run.exitCode(), run.err());
        JsonNode result = run.lastJsonLine();
        assertEquals(3 * 31, result.get("predicted_tokens").asLong(), "3 windows of 32, trailing 4 dropped");
        assertEquals(Math.exp(result.get("mean_nll").asDouble()), result.get("perplexity").asDouble(), 1e-9);
    }

    @Test
    void shouldQuantizeWithRtnIntoAFolderThatEvalLoads() throws IOException {
        Path model = randomModel();
        Path ids = tokenIds(200, 67);
        double full = cherryq("eval", "--model", model, "--token-ids", ids, "--seq-len", 50, "--format", "json")
                .lastJsonLine().get("mean_nll").asDouble();
        double[] nll = new double[9];
        for (int bits : new int[] {2, 8}) {
            Path out = dir.resolve("rtn" + bits);
            Run quantize = cherryq("quantize", "--method", "rtn", "--bits", bits, "--group-size", 8, "--model", model,
                    "--out", out);
            assertEquals(0, quantize.exitCode(), quantize.err());
            Run eval = cherryq("eval", "--model", out, "--token-ids", ids, "--seq-len", 50, "--format", "json");
            assertEquals(0, eval.exitCode(), eval.err());
            nll[bits] = eval.lastJsonLine().get("mean_nll").asDouble();
        }
        assertTrue(Math.abs(nll[8] - full) < 0.01 * full, "8-bit RTN stays close to full precision: " + nll[8] + " vs " + full);
        assertTrue(Math.abs(nll[2] - full) > Math.abs(nll[8] - full), "2-bit RTN moves further than 8-bit");
        Run inspect = cherryq("inspect", dir.resolve("rtn2"));
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertTrue(inspect.out().contains("quantization rtn 2-bit g8 sym-full"), inspect.out());
        // 2-bit codes + one f16 scale per 8 weights = 4 bits per weight on these 24- and 40-wide rows
        assertTrue(inspect.out().contains("4.000 effective bits per linear weight"), inspect.out());
    }

    @Test
    void shouldEvaluateStories260kAndItsHfConversionIdentically() throws IOException {
        Path bin = TestFixtures.stories260k();
        Path tokenizer = TestFixtures.tok512();
        Path text = dir.resolve("sample.txt");
        String sample = Files.readString(TestFixtures.shared("data/tinystories/tinystories_val_sample.txt"));
        Files.writeString(text, sample.substring(0, 20_000));
        Run fromBin = cherryq("eval", "--model", bin, "--tokenizer", tokenizer, "--text", text, "--seq-len", 256,
                "--format", "json");
        assertEquals(0, fromBin.exitCode(), fromBin.err());
        Path hf = dir.resolve("stories260K-hf");
        Run convert = cherryq("convert", "--model", bin, "--tokenizer", tokenizer, "--out", hf);
        assertEquals(0, convert.exitCode(), convert.err());
        assertTrue(Files.exists(hf.resolve("tokenizer.bin")));
        Run fromHf = cherryq("eval", "--model", hf, "--text", text, "--seq-len", 256, "--format", "json");
        assertEquals(0, fromHf.exitCode(), fromHf.err());
        assertEquals(fromBin.lastJsonLine().get("mean_nll").asDouble(), fromHf.lastJsonLine().get("mean_nll").asDouble(),
                1e-6);
        double nll = fromBin.lastJsonLine().get("mean_nll").asDouble();
        assertTrue(nll > 0.8 && nll < 2.5, "a trained TinyStories model on TinyStories text: " + nll);
        Run inspect = cherryq("inspect", hf);
        assertTrue(inspect.out().contains("260,032"), inspect.out());
    }

    @Test
    void shouldRunTheDemoJobOnTheCommittedDemoModel() throws IOException {
        Path demoModel = Path.of("../../models/demo").toAbsolutePath().normalize();
        Path text = dir.resolve("held-out.txt");
        String paragraph = "Mr. Speaker, Mr. Vice President, Members of Congress, and my fellow Americans: the state "
                + "of our Union is strong. We have cut taxes, built roads and schools, and kept the peace. ";
        Files.writeString(text, (paragraph.repeat(6) + "\n\n").repeat(12));
        Path out = dir.resolve("demo-out");
        Run run = cherryq("demo", "--model", demoModel, "--eval-text", text, "--train-text", text, "--bits", "4",
                "--steps", 2, "--seq-len", 128, "--out", out);
        assertEquals(0, run.exitCode(), run.err());
        JsonNode rows = JSON.readTree(out.resolve("results.json").toFile());
        assertEquals(3, rows.size(), "fp, rtn 4-bit, cherryq 3-bit");
        assertEquals("cherryq", rows.get(2).get("method").asText());
        assertTrue(rows.get(2).get("mean_nll").asDouble() < 6.9, "cherryq model is a language model, not noise");
        double full = rows.get(0).get("mean_nll").asDouble();
        double rtn4 = rows.get(1).get("mean_nll").asDouble();
        // the demo model was trained on addresses like this text: far better than uniform over 1024 tokens (6.93)
        assertTrue(full < 5.0, "demo model fits its domain: " + full);
        assertTrue(Math.abs(rtn4 - full) < 0.1 * full, "4-bit RTN stays near full precision: " + rtn4 + " vs " + full);
        assertTrue(run.out().contains("| rtn | 4-bit g32 sym-full |"), run.out());
    }

    private Path demoText() throws IOException {
        Path text = dir.resolve("speech.txt");
        String paragraph = "Mr. Speaker, Mr. Vice President, Members of Congress, and my fellow Americans: the state "
                + "of our Union is strong. We have cut taxes, built roads and schools, and kept the peace. ";
        Files.writeString(text, (paragraph.repeat(6) + "\n\n").repeat(12));
        return text;
    }

    @Test
    void shouldRunCherryqEndToEndIntoAPackedFolderThatEvalAndInspectRead() throws IOException {
        Path demoModel = Path.of("../../models/demo").toAbsolutePath().normalize();
        Path text = demoText();
        Path out = dir.resolve("cherryq3");
        Run run = cherryq("quantize", "--model", demoModel, "--method", "cherryq", "--bits", 3, "--group-size", 32,
                "--calib-text", text, "--calib-samples", 4, "--train-text", text, "--steps", 3, "--seq-len", 64,
                "--batch-size", 2, "--out", out);
        assertEquals(0, run.exitCode(), run.err());
        for (String file : new String[] {"model.safetensors", "cherryq-packed.safetensors", "cherries.safetensors",
                "fisher.safetensors", "quantize.json", "config.json", "tokenizer.json"}) {
            assertTrue(Files.exists(out.resolve(file)), file);
        }
        assertFalse(Files.exists(out.resolve("checkpoint")), "checkpoint removed after a successful export");
        JsonNode record = JSON.readTree(out.resolve("quantize.json").toFile());
        assertEquals(3, record.get("training").get("losses").size());
        assertEquals(4, record.get("stages").size(), "score, select, train, export");
        // 128-wide rows at 1/256: one cherry per row
        assertEquals(dev.cherryq.core.selection.CherrySet.read(out.resolve("cherries.safetensors")).totalCherries(),
                record.get("cherries").asLong());
        Map<String, float[]> unpacked = dev.cherryq.core.quant.PackedModel.unpack(out);
        try (var dense = dev.cherryq.core.format.SafetensorsFile.open(out.resolve("model.safetensors"))) {
            for (String name : dense.tensorNames()) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(dense.readFloats(name), unpacked.get(name), 0f, name);
            }
        }
        Run eval = cherryq("eval", "--model", out, "--text", text, "--seq-len", 64, "--format", "json");
        assertEquals(0, eval.exitCode(), eval.err());
        assertTrue(eval.lastJsonLine().get("mean_nll").asDouble() < 6.9, "better than uniform over 1024 tokens");
        Run inspect = cherryq("inspect", out);
        assertTrue(inspect.out().contains("effective bits per linear weight"), inspect.out());
        assertTrue(inspect.out().contains("cherryq 3-bit g32 sym-full"), inspect.out());
    }

    @Test
    void shouldQuantizeWithGptqAndStartCherryqFromIt() throws IOException {
        Path demoModel = Path.of("../../models/demo").toAbsolutePath().normalize();
        Path text = demoText();
        Path gptq = dir.resolve("gptq3");
        Run run = cherryq("quantize", "--model", demoModel, "--method", "gptq", "--bits", 3, "--group-size", 32,
                "--calib-text", text, "--calib-samples", 4, "--seq-len", 64, "--export", "gguf:q8_0", "--out", gptq);
        assertEquals(0, run.exitCode(), run.err());
        // --export: the GGUF file beside the folder's forms, from the folder's dense weights (3-bit sym-full is no
        // GGUF type, so q8_0 rounds it again)
        assertTrue(run.out().contains("wrote " + gptq.resolve("model-q8_0.gguf")), run.out());
        assertTrue(Files.size(gptq.resolve("model-q8_0.gguf")) > 1_000_000, "a whole model");
        JsonNode record = JSON.readTree(gptq.resolve("quantize.json").toFile());
        double gptqError = record.get("gptq").get("weighted_error").asDouble();
        double rtnError = record.get("gptq").get("rtn_weighted_error").asDouble();
        assertTrue(gptqError > 0 && gptqError < rtnError, "GPTQ " + gptqError + " below RTN " + rtnError);
        assertFalse(Files.exists(gptq.resolve("cherries.safetensors")), "gptq keeps no cherries");
        Run eval = cherryq("eval", "--model", gptq, "--text", text, "--seq-len", 64, "--format", "json");
        assertEquals(0, eval.exitCode(), eval.err());
        assertTrue(eval.lastJsonLine().get("mean_nll").asDouble() < 6.9, "a language model, not noise");

        Path cherryq = dir.resolve("cherryq-from-gptq");
        run = cherryq("quantize", "--model", demoModel, "--method", "cherryq", "--init", "gptq", "--bits", 3,
                "--group-size", 32, "--calib-text", text, "--calib-samples", 4, "--train-text", text, "--steps", 2,
                "--seq-len", 64, "--batch-size", 2, "--out", cherryq);
        assertEquals(0, run.exitCode(), run.err());
        record = JSON.readTree(cherryq.resolve("quantize.json").toFile());
        assertEquals(2, record.get("training").get("losses").size());
        assertTrue(record.get("gptq").get("weighted_error").asDouble() < record.get("gptq").get("rtn_weighted_error")
                .asDouble());
        assertEquals(List.of("score", "select", "gptq", "train", "export"), stageNames(record));
        assertTrue(record.get("cherries").asLong() > 0);
    }

    @Test
    void shouldQuantizeALlama2cCheckpointWithGptq() throws IOException {
        Path bin = TestFixtures.stories260k();
        Path tokenizer = TestFixtures.tok512();
        Path text = dir.resolve("sample.txt");
        String sample = Files.readString(TestFixtures.shared("data/tinystories/tinystories_val_sample.txt"));
        Files.writeString(text, sample.substring(0, 20_000));
        Path out = dir.resolve("stories-gptq");
        Run run = cherryq("quantize", "--model", bin, "--tokenizer", tokenizer, "--method", "cherryq", "--init", "gptq",
                "--bits", 4, "--group-size", 32, "--calib-text", text, "--calib-samples", 4, "--train-text", text,
                "--steps", 2, "--seq-len", 64, "--batch-size", 2, "--out", out);
        assertEquals(0, run.exitCode(), run.err());
        Run eval = cherryq("eval", "--model", out, "--text", text, "--seq-len", 64, "--format", "json");
        assertEquals(0, eval.exitCode(), eval.err());
        // stories260K on its own domain is near 1.6 nats at full precision; 4-bit stays a language model
        assertTrue(eval.lastJsonLine().get("mean_nll").asDouble() < 3.0, eval.out());
    }

    private static List<String> stageNames(JsonNode record) {
        List<String> names = new ArrayList<>();
        record.get("stages").forEach(stage -> names.add(stage.get("stage").asText()));
        return names;
    }

    @Test
    void shouldWriteTheFidelityReportWithControlsSeedsAndFigures() throws IOException {
        Path demoModel = Path.of("../../models/demo").toAbsolutePath().normalize();
        Path text = demoText();
        Path out = dir.resolve("report");
        Run run = cherryq("report", "--model", demoModel, "--calib-text", text, "--train-text", text, "--eval-text", text,
                "--bits", "4", "--seeds", "0,1", "--ablation-bits", 4, "--group-size", 64, "--steps", 2, "--seq-len", 64,
                "--batch-size", 2, "--calib-samples", 2, "--validation-windows", 2, "--memory-steps", 20, "--out", out);
        assertEquals(0, run.exitCode(), run.err());
        JsonNode report = JSON.readTree(out.resolve("report.json").toFile());
        List<String> variants = new ArrayList<>();
        report.get("results").forEach(row -> variants.add(row.get("variant").asText()));
        assertEquals(List.of("fp", "rtn", "gptq", "qat", "cherryq", "gptq+cherryq", "cherryq-random", "qat-equal-bits",
                "cherryq-impact", "cherryq-saliency", "cherryq-magnitude"), variants);
        JsonNode qat = report.get("results").get(3);
        assertEquals(2, qat.get("runs").size(), "one run per seed");
        double mean = (qat.get("runs").get(0).get("mean_nll").asDouble() + qat.get("runs").get(1).get("mean_nll")
                .asDouble()) / 2;
        assertEquals(mean, qat.get("mean_nll").asDouble(), 1e-12);
        String command = qat.get("runs").get(1).get("command").asText();
        assertTrue(command.contains("--method qat") && command.contains("--seed 1") && command.contains("--bits 4"),
                command);
        // the equal-bits control spends about the bits cherryq spends, fewer per group than qat's
        JsonNode cherryq = report.get("results").get(4);
        JsonNode equalBits = report.get("results").get(7);
        assertTrue(Math.abs(equalBits.get("effective_bits").asDouble() - cherryq.get("effective_bits").asDouble())
                < Math.abs(qat.get("effective_bits").asDouble() - cherryq.get("effective_bits").asDouble()), report
                .toString());
        assertFalse(report.get("evaluation_text").get("held_out").asBoolean(), "the evaluation text is the training text");
        assertEquals(LlamaTensorNames.linearWeights(dev.cherryq.core.model.LlamaConfig.read(
                demoModel.resolve("config.json"))).size(), report.get("heterogeneity").size());
        for (String figure : new String[] {"heterogeneity-scores.png", "heterogeneity-scatter.png", "loss-4bit.png",
                "nll-vs-bits.png", "memory.png"}) {
            assertTrue(Files.size(out.resolve(figure)) > 1000, figure);
        }
        String markdown = Files.readString(out.resolve("report.md"));
        assertTrue(markdown.contains("| cherryq-random | 4 |") && markdown.contains("NOT held out")
                && markdown.contains("criterion control, 4 bits") && markdown.contains("## Memory over a long run"),
                markdown);
    }

    @Test
    void shouldReuseFinishedRunsOfTheSameJobAndRerunChangedOnes() throws IOException {
        Path demoModel = Path.of("../../models/demo").toAbsolutePath().normalize();
        Path text = demoText();
        Path out = dir.resolve("reused-report");
        Object[] common = {"report", "--model", demoModel, "--calib-text", text, "--train-text", text, "--eval-text", text,
                "--seeds", "0", "--ablation-bits", 0, "--variants", "rtn,qat", "--group-size", 64, "--seq-len", 64,
                "--batch-size", 2, "--calib-samples", 2, "--validation-windows", 2, "--reuse", "--out", out};
        Run first = cherryq(concat(common, "--bits", "4", "--steps", 2));
        assertEquals(0, first.exitCode(), first.err());
        assertFalse(first.out().contains("reusing"), first.out());
        JsonNode before = JSON.readTree(out.resolve("report.json").toFile()).get("results");

        // one more width: the 4-bit runs are kept, evaluations included, and only the 3-bit ones run
        Run wider = cherryq(concat(common, "--bits", "4,3", "--steps", 2));
        assertEquals(0, wider.exitCode(), wider.err());
        assertTrue(wider.out().contains("reusing " + out.resolve("rtn-w4-s0"))
                && wider.out().contains("reusing " + out.resolve("qat-w4-s0")), wider.out());
        assertFalse(wider.out().contains("reusing " + out.resolve("qat-w3-s0")), wider.out());
        JsonNode after = JSON.readTree(out.resolve("report.json").toFile()).get("results");
        assertEquals(row(before, "qat", 4).get("runs").get(0).get("mean_nll"),
                row(after, "qat", 4).get("runs").get(0).get("mean_nll"), "qat at 4 bits is the same run: " + after);
        assertEquals(1, row(after, "qat", 3).get("runs").size(), after.toString());

        // a changed recipe is another job: the 4-bit qat run is trained again in place of the old one
        Run changed = cherryq(concat(common, "--bits", "4", "--steps", 3));
        assertEquals(0, changed.exitCode(), changed.err());
        assertTrue(changed.out().contains(out.resolve("qat-w4-s0") + " holds another job"), changed.out());
        assertEquals(3, JSON.readTree(out.resolve("qat-w4-s0/quantize.json").toFile()).get("recipe").get("steps").asInt());
    }

    @Test
    void shouldPretrainWithCheckpointsAndReportHeterogeneityOverThem() throws IOException {
        Path tokenizer = Path.of("../../models/demo/tokenizer.json").toAbsolutePath().normalize();
        Path text = demoText();
        Path model = dir.resolve("tiny");
        Run pretrain = cherryq("pretrain", "--text", text, "--text", text, "--validation-text", text,
                "--validation-windows", 2, "--tokenizer", tokenizer, "--hidden", 32, "--intermediate", 64, "--layers", 2,
                "--heads", 2, "--kv-heads", 1, "--seq-len", 32, "--batch-size", 2, "--steps", 6, "--checkpoint-every", 3,
                "--out", model);
        assertEquals(0, pretrain.exitCode(), pretrain.err());
        JsonNode training = JSON.readTree(model.resolve("training.json").toFile());
        assertEquals(2, training.get("texts").size());
        List<Integer> steps = new ArrayList<>();
        training.get("checkpoints").forEach(point -> {
            steps.add(point.get("step").asInt());
            assertTrue(Double.isFinite(point.get("validation_nll").asDouble()) && point.get("validation_nll")
                    .asDouble() > 0, point.toString());
        });
        assertEquals(List.of(3, 6), steps, "every 3 steps, the last one included");
        assertTrue(Files.isRegularFile(model.resolve("checkpoints/step-000003/model.safetensors")));
        assertFalse(Files.exists(model.resolve("checkpoints/step-000006")), "the last step is the model itself");

        Path out = dir.resolve("tiny-report");
        Run report = cherryq("report", "--model", model, "--calib-text", text, "--train-text", text, "--eval-text", text,
                "--bits", 4, "--seeds", 0, "--variants", "rtn,qat", "--ablation-bits", 0, "--group-size", 32,
                "--steps", 2, "--seq-len", 32, "--batch-size", 2, "--calib-samples", 2, "--validation-windows", 1,
                "--training-checkpoints", model.resolve("checkpoints"), "--out", out);
        assertEquals(0, report.exitCode(), report.err());
        JsonNode json = JSON.readTree(out.resolve("report.json").toFile());
        JsonNode overTraining = json.get("heterogeneity_over_training");
        assertEquals(2, overTraining.size(), "the checkpoint at step 3 and the final model");
        assertEquals(List.of(3L, 6L), List.of(overTraining.get(0).get("step").asLong(),
                overTraining.get(1).get("step").asLong()));
        assertEquals(3L * 2 * 31, overTraining.get(0).get("tokens").asLong(), "steps x windows x predicted tokens");
        assertTrue(Files.size(out.resolve("heterogeneity-over-training.png")) > 1000);
        List<String> variants = new ArrayList<>();
        json.get("results").forEach(row -> variants.add(row.get("variant").asText()));
        assertEquals(List.of("fp", "rtn", "qat"), variants, "only the rows asked for");
        assertOneLineError(cherryq("report", "--model", model, "--calib-text", text, "--train-text", text,
                "--eval-text", text, "--variants", "rtn,qat-equal-bits", "--out", out), "qat-equal-bits");
    }

    @Test
    void shouldRejectBadQuantizationSettingsBeforeAnyWork() throws IOException {
        Path demoModel = Path.of("../../models/demo").toAbsolutePath().normalize();
        Path text = demoText();
        Path out = dir.resolve("never");
        Object[] base = {"quantize", "--model", demoModel, "--train-text", text, "--calib-text", text, "--out", out};
        assertOneLineError(cherryq(concat(base, "--bits", 1)), "--bits 1");
        assertOneLineError(cherryq(concat(base, "--bits", 9)), "--bits 9");
        assertOneLineError(cherryq(concat(base, "--bits", 3, "--group-size", 0)), "--group-size 0");
        assertOneLineError(cherryq(concat(base, "--bits", 3, "--group-size", -5)), "--group-size -5");
        assertOneLineError(cherryq(concat(base, "--bits", 3, "--cherry-fraction", 0.6)), "--cherry-fraction 0.6");
        assertOneLineError(cherryq(concat(base, "--bits", 3, "--steps", 0)), "--steps 0");
        assertOneLineError(cherryq(concat(base, "--bits", 3, "--criterion", "gradient")), "--criterion 'gradient'");
        Path tiny = dir.resolve("tiny.txt");
        Files.writeString(tiny, "Short text.");
        assertOneLineError(cherryq("quantize", "--model", demoModel, "--bits", 3, "--calib-text", tiny, "--train-text", text,
                "--seq-len", 64, "--out", out), "at least 64 tokens");
        assertOneLineError(cherryq("quantize", "--model", demoModel, "--bits", 3, "--method", "qat", "--out", out),
                "needs --train-text");
        assertFalse(Files.exists(out.resolve("model.safetensors")), "nothing written");
    }

    private static JsonNode row(JsonNode results, String variant, int bits) {
        for (JsonNode row : results) {
            if (row.get("variant").asText().equals(variant) && row.get("bits").asInt() == bits) {
                return row;
            }
        }
        throw new AssertionError("no " + variant + " row at " + bits + " bits in " + results);
    }

    private static Object[] concat(Object[] base, Object... more) {
        Object[] all = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void shouldDrawTheLossCurveAsAPng() throws IOException {
        Path trainingJson = dir.resolve("training.json");
        StringBuilder losses = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            losses.append(i == 0 ? "" : ",").append(6.0 * Math.exp(-i / 60.0) + 2.5);
        }
        Files.writeString(trainingJson, "{\"parameters\": 1000, \"text\": \"t.txt\", \"losses\": [" + losses + "]}");
        Path png = dir.resolve("loss.png");
        Run run = cherryq("plot-losses", "--training-json", trainingJson, "--out", png);
        assertEquals(0, run.exitCode(), run.err());
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
        assertEquals(LinePlot.WIDTH, image.getWidth());
        assertEquals(LinePlot.HEIGHT, image.getHeight());
        int seriesPixels = 0;
        for (int x = 0; x < image.getWidth(); x++) {
            for (int y = 0; y < image.getHeight(); y++) {
                if ((image.getRGB(x, y) & 0xFFFFFF) == 0x1F77B4) { // the moving-average colour
                    seriesPixels++;
                }
            }
        }
        assertTrue(seriesPixels > 500, "the curve was drawn: " + seriesPixels + " pixels");
        assertOneLineError(cherryq("plot-losses", "--training-json", dir.resolve("none.json"), "--out", png),
                "none.json: file not found");
    }

    @Test
    void shouldFailWithOneLineNamingTheProblem() throws IOException {
        Path model = randomModel();
        assertOneLineError(cherryq("eval", "--model", dir.resolve("missing"), "--token-ids", tokenIds(10, 67),
                "--seq-len", 4), "missing: no such file or folder");
        assertOneLineError(cherryq("quantize", "--bits", 9, "--model", model, "--out", dir.resolve("x")), "--bits 9");
        assertOneLineError(cherryq("quantize", "--bits", 3, "--group-size", 0, "--model", model, "--out",
                dir.resolve("x")), "--group-size 0");
        assertOneLineError(cherryq("eval", "--model", model, "--token-ids", tokenIds(10, 67), "--seq-len", 32),
                "shorter than one window");
        Path outOfVocabulary = dir.resolve("big-ids.json");
        Files.writeString(outOfVocabulary, "[1, 2, 67, 4]");
        assertOneLineError(cherryq("eval", "--model", model, "--token-ids", outOfVocabulary, "--seq-len", 2),
                "token id 67 at position 2");
        Files.writeString(model.resolve("config.json"), Files.readString(model.resolve("config.json"))
                .replace("\"llama\"", "\"mistral\""));
        assertOneLineError(cherryq("inspect", model), "model_type 'mistral'");
        Path corrupt = dir.resolve("corrupt");
        Files.createDirectories(corrupt);
        Files.writeString(corrupt.resolve("config.json"), Files.readString(model.resolve("config.json"))
                .replace("\"mistral\"", "\"llama\""));
        Files.write(corrupt.resolve("model.safetensors"), new byte[] {(byte) 0xFF, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        assertOneLineError(cherryq("inspect", corrupt), "header length");
    }

    @Test
    void shouldRefuseABadGgufExportWithOneLineErrorsAndWriteNothing() throws IOException {
        Path model = randomModel(); // vocab 67, no tokenizer in the folder
        Path gguf = dir.resolve("out.gguf");
        Path demoTokenizer = Path.of("../../models/demo/tokenizer.json").toAbsolutePath().normalize();
        assertOneLineError(cherryq("export", "--model", model, "--tokenizer", demoTokenizer, "--format", "onnx",
                "--out", gguf), "--format 'onnx' is not supported (supported: gguf, hf-dense, gptq)");
        assertOneLineError(cherryq("export", "--model", model, "--tokenizer", demoTokenizer, "--format", "gguf",
                "--type", "q5_1", "--out", gguf), "--type 'q5_1' is not supported (supported: f32, f16, q4_0, q8_0)");
        assertOneLineError(cherryq("export", "--model", model, "--format", "gguf", "--out", gguf),
                "no tokenizer in the model folder; give one with --tokenizer");
        assertOneLineError(cherryq("export", "--model", model, "--tokenizer", demoTokenizer, "--format", "gguf",
                "--out", gguf), "the tokenizer has 1024 pieces but the model's vocab_size is 67");
        Path byteLevel = dir.resolve("byte-level.json");
        Files.writeString(byteLevel, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, "
                + "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
        assertOneLineError(cherryq("export", "--model", model, "--tokenizer", byteLevel, "--format", "gguf",
                "--out", gguf), "byte-level (GPT-2 style) BPE tokenizer is not supported by the GGUF export");
        assertOneLineError(cherryq("export", "--model", model, "--tokenizer", demoTokenizer, "--format", "gguf",
                "--out", dir), "is a folder");
        assertFalse(Files.exists(gguf) || Files.exists(dir.resolve("out.gguf.partial")), "nothing written");
        // quantize --export is checked before any compute
        Path quantized = dir.resolve("never");
        assertOneLineError(cherryq("quantize", "--model", model, "--method", "rtn", "--bits", 4, "--export", "onnx",
                "--out", quantized), "--export 'onnx' is not supported (supported: gguf:TYPE (TYPE one of");
        assertOneLineError(cherryq("quantize", "--model", model, "--method", "rtn", "--bits", 4, "--export",
                "gguf:q5_1", "--out", quantized), "--export 'gguf:q5_1' is not supported");
        assertFalse(Files.exists(quantized), "nothing written");
    }

    private static void assertOneLineError(Run run, String expected) {
        assertEquals(2, run.exitCode(), "exit code for a user error; stderr: " + run.err());
        String err = run.err().strip();
        assertTrue(err.startsWith("cherryq: error: ") && err.contains(expected), err);
        assertFalse(err.contains("\tat ") || err.contains("Exception"), "no stack trace: " + err);
        assertEquals(1, err.lines().filter(l -> l.startsWith("cherryq: error")).count(), err);
    }
}
