package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.GgufArchitecture;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.format.TensorSource;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaGgufExport;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.Llama2cTokenizer;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * llama.cpp as the referee of the GGUF export (docs/EXPORTS.md): {@code cherryq export} writes the model,
 * llama.cpp (npm's node-llama-cpp 3.21.1, prebuilt, installed by scripts/prepare-llama-cpp into the git-ignored
 * cache) computes the mean next-token NLL over windows of {@value #WINDOW} ids with scripts/llama-cpp-nll.mjs, and
 * that must equal the project's own {@code PerplexityEvaluator} on the same windows, evaluating exactly the weights
 * the file holds (each tensor rounded through its GGUF type in Java). A file whose q/k rows keep HF's rotate-half
 * layout must miss by far. When node, npm or the npm registry is unavailable the tests are skipped with the reason;
 * in CI ({@code CI=true}) they fail instead.
 */
class GgufLlamaCppTest {

    static final int WINDOW = 64;
    static final int WINDOWS = 6;
    /**
     * Bounds on |llama.cpp - project| in nats, per type, a few times the differences measured here (docs/EXPORTS.md:
     * F32 1e-5 to 7e-5, F16 4e-5, Q8_0 4e-4, Q4_0 8e-4). Beyond F32, llama.cpp rounds the activations too: to f16 for
     * F16 weights, to 8-bit blocks (Q8_0) for Q8_0 and Q4_0 weights. A q/k permutation left out costs 1.7 nats.
     */
    static final Map<GgmlType, Double> TOLERANCE = Map.of(
            GgmlType.F32, 2e-4,
            GgmlType.F16, 3e-4,
            GgmlType.Q8_0, 3e-3,
            GgmlType.Q4_0, 3e-3);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path home;
    static Path llamaCppDir;

    @BeforeAll
    static void prepareLlamaCpp() {
        DjlRuntime.ensureOffline();
        home = Path.of(System.getProperty("cherryq.home", "../..")).toAbsolutePath().normalize();
        try {
            run(home, Map.of(), 30, "node", "--version");
            String output = run(home, Map.of(), 600, "bash", home.resolve("scripts/prepare-llama-cpp").toString());
            llamaCppDir = Path.of(output.strip().lines().reduce((first, second) -> second).orElseThrow());
            // held-out text for the windows (random ids make the model confidently wrong, which magnifies the
            // activation rounding of llama.cpp's quantized kernels)
            run(home, Map.of(), 300, "bash", home.resolve("scripts/prepare-demo-data").toString());
        } catch (Exception e) {
            unavailable("llama.cpp or the held-out text could not be prepared (scripts/prepare-llama-cpp and "
                    + "scripts/prepare-demo-data need node, npm and the npm registry): " + e.getMessage());
        }
    }

    @Test
    void shouldGiveTheProjectsNllInLlamaCppForTheDemoModelInEveryType() throws Exception {
        Path demo = home.resolve("models/demo");
        Path ids = writeIds("demo-ids.json", demoIds(demo));
        Map<GgmlType, double[]> measured = new LinkedHashMap<>();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(demo)) {
            double full = projectNll(checkpoint.config(), checkpoint.tensors(), ids);
            for (GgmlType type : GgmlType.values()) {
                Path gguf = dir.resolve("demo-" + type.cliName() + ".gguf");
                CliTest.Run export = CliTest.cherryq("export", "--model", demo, "--format", "gguf", "--type",
                        type.cliName(), "--out", gguf);
                assertEquals(0, export.exitCode(), export.err());
                assertTrue(export.out().contains("wrote " + gguf), export.out());
                double llamaCpp = llamaCppNll(gguf, ids);
                double project = projectNll(checkpoint.config(), LlamaGgufExport.storedWeights(checkpoint, type), ids);
                measured.put(type, new double[] {llamaCpp, project, full});
            }
        }
        StringBuilder report = new StringBuilder("demo model, " + WINDOWS + " windows of " + WINDOW + ":");
        measured.forEach((type, m) -> report.append(String.format("%n  %-5s llama.cpp %.6f  project (same weights) "
                + "%.6f  diff %+.2e  project (source weights) %.6f", type.cliName(), m[0], m[1], m[0] - m[1], m[2])));
        System.out.println(report);
        measured.forEach((type, m) -> assertTrue(Math.abs(m[0] - m[1]) <= TOLERANCE.get(type),
                type + ": llama.cpp " + m[0] + " against the project's " + m[1] + "\n" + report));
        // rounding to 4 bits costs measurably more than to 8: the types really differ in the file
        assertTrue(measured.get(GgmlType.Q4_0)[1] - measured.get(GgmlType.F32)[1]
                > 5 * Math.abs(measured.get(GgmlType.Q8_0)[1] - measured.get(GgmlType.F32)[1]), report.toString());
    }

    @Test
    void shouldMissByFarWhenQkRowsKeepTheRotateHalfLayout() throws Exception {
        Path demo = home.resolve("models/demo");
        Path ids = writeIds("demo-ids.json", demoIds(demo));
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(demo)) {
            LlamaConfig config = checkpoint.config();
            // the source's q/k rows pre-permuted by the inverse, so the file ends up with HF's rotate-half rows
            InMemoryTensors undone = new InMemoryTensors(demo);
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                float[] values = checkpoint.tensors().readFloats(tensor.name());
                int layer = LlamaTensorNames.layerOf(tensor.name());
                if (layer >= 0 && tensor.name().equals(LlamaTensorNames.Projection.Q.tensorName(layer))) {
                    values = adjacentPairsToHalves(values, config.numberOfHeads(), config.headDim(), config.hiddenSize());
                } else if (layer >= 0 && tensor.name().equals(LlamaTensorNames.Projection.K.tensorName(layer))) {
                    values = adjacentPairsToHalves(values, config.numberOfKeyValueHeads(), config.headDim(),
                            config.hiddenSize());
                }
                undone.put(tensor.name(), tensor.shape(), values);
            }
            Path wrong = dir.resolve("demo-unpermuted.gguf");
            LlamaGgufExport.write(new LlamaCheckpoint(demo, "control", config, undone),
                    TokenizerVocabulary.read(demo.resolve("tokenizer.json")), GgmlType.F32, wrong, Progress.NONE);
            double llamaCpp = llamaCppNll(wrong, ids);
            double project = projectNll(config, checkpoint.tensors(), ids);
            System.out.printf("demo model with q/k rows left in rotate-half layout: llama.cpp %.6f, project %.6f%n",
                    llamaCpp, project);
            assertTrue(Math.abs(llamaCpp - project) > 100 * TOLERANCE.get(GgmlType.F32), "the check must catch a "
                    + "wrong RoPE layout: llama.cpp " + llamaCpp + ", project " + project);
        }
    }

    @Test
    void shouldGiveTheProjectsNllForATiedModelWhoseHeadDimIsNotHiddenOverHeads() throws Exception {
        // hidden 48, 4 heads of 16 (64 != 48), 2 kv heads, tied embeddings, a sentencepiece vocabulary of 300
        LlamaConfig config = new LlamaConfig(48, 96, 2, 4, 2, 16, 300, 128, 1e-5, 10000.0, true, 1, 2);
        InMemoryTensors tensors = RandomLlama.tensors(config, RandomLlama.weights(config, 21));
        Path gguf = dir.resolve("random-tied.gguf");
        LlamaGgufExport.write(new LlamaCheckpoint(dir.resolve("random-tied"), "random", config, tensors),
                syntheticVocabulary(config.vocabSize()), GgmlType.F32, gguf, Progress.NONE);
        Path ids = writeIds("random-ids.json", new Random(4).ints(WINDOWS * WINDOW, 0, config.vocabSize()).toArray());
        double llamaCpp = llamaCppNll(gguf, ids);
        double project = projectNll(config, tensors, ids);
        System.out.printf("random tied model (head_dim 16 x 4 heads, hidden 48): llama.cpp %.6f, project %.6f, "
                + "diff %+.2e%n", llamaCpp, project, llamaCpp - project);
        assertTrue(Math.abs(llamaCpp - project) <= TOLERANCE.get(GgmlType.F32), "llama.cpp " + llamaCpp
                + " against the project's " + project);
    }

    @Test
    void shouldGiveTheProjectsNllForALlama3ModelWithRopeScalingThroughRopeFreqs() throws Exception {
        // core's Llama-3.2-shaped test config (theta 500000, llama3 rope_scaling with original context 64, so that
        // windows of 64 reach every frequency band; tied head), with a sentencepiece vocabulary of 300
        com.fasterxml.jackson.databind.node.ObjectNode json = RandomLlama.familyConfigJson("llama-3.2");
        json.put("vocab_size", 300);
        LlamaConfig config = RandomLlama.parse(json);
        InMemoryTensors tensors = RandomLlama.tensors(config, RandomLlama.weights(config, 23));
        Path gguf = dir.resolve("random-llama3.gguf");
        LlamaGgufExport.write(new LlamaCheckpoint(dir.resolve("random-llama3"), "random", config, tensors),
                syntheticVocabulary(config.vocabSize()), GgmlType.F32, gguf, Progress.NONE);
        // the control: the same weights without rope_freqs, as if the scaling were dropped
        Path plain = dir.resolve("random-llama3-without-rope-freqs.gguf");
        LlamaConfig unscaled = config.withFamily(dev.cherryq.core.model.ModelFamily.LLAMA_2);
        LlamaGgufExport.write(new LlamaCheckpoint(dir.resolve("random-llama3"), "random", unscaled, tensors),
                syntheticVocabulary(config.vocabSize()), GgmlType.F32, plain, Progress.NONE);
        Path ids = writeIds("llama3-ids.json", new Random(5).ints(WINDOWS * WINDOW, 0, config.vocabSize()).toArray());
        // flash attention off: its f16 rounding (1.6e-4 nats here) would otherwise be most of the difference
        Map<String, String> exact = Map.of("LLAMA_CPP_FLASH_ATTENTION", "0");
        double llamaCpp = llamaCppNll(gguf, ids, exact);
        double withoutScaling = llamaCppNll(plain, ids, exact);
        double project = projectNll(config, tensors, ids);
        System.out.printf("random Llama-3 model (llama3 rope scaling): llama.cpp %.6f, project %.6f, diff %+.2e; "
                + "llama.cpp without rope_freqs %.6f%n", llamaCpp, project, llamaCpp - project, withoutScaling);
        assertTrue(Math.abs(llamaCpp - project) <= 1e-4, "llama.cpp " + llamaCpp + " against the project's " + project);
        assertTrue(Math.abs(withoutScaling - project) > 10 * TOLERANCE.get(GgmlType.F32), "dropping rope_freqs must "
                + "show: llama.cpp " + withoutScaling + " against the project's " + project);
    }

    @Test
    void shouldGiveTheProjectsNllForStories260kFromLlama2cWithItsTokenizer() throws Exception {
        Path model = TestFixtures.stories260k();
        Path tok512 = TestFixtures.tok512();
        Path text = TestFixtures.shared("data/tinystories/tinystories_val_sample.txt");
        Llama2cTokenizer tokenizer = Llama2cTokenizer.read(tok512);
        int[] ids = withBos(tokenizer.encode(Files.readString(text).substring(0, 6000)), 1);
        Path idsFile = writeIds("stories-ids.json", Arrays.copyOf(ids, WINDOWS * WINDOW));
        Path gguf = dir.resolve("stories260K-f32.gguf");
        CliTest.Run export = CliTest.cherryq("export", "--model", model, "--tokenizer", tok512, "--format", "gguf",
                "--type", "f32", "--out", gguf);
        assertEquals(0, export.exitCode(), export.err());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            double llamaCpp = llamaCppNll(gguf, idsFile);
            double project = projectNll(checkpoint.config(), checkpoint.tensors(), idsFile);
            System.out.printf("stories260K (llama2.c, tied): llama.cpp %.6f, project %.6f, diff %+.2e%n", llamaCpp,
                    project, llamaCpp - project);
            assertTrue(Math.abs(llamaCpp - project) <= TOLERANCE.get(GgmlType.F32), "llama.cpp " + llamaCpp
                    + " against the project's " + project);
        }
    }

    /**
     * One model per family (core's family test configs with the demo tokenizer's 1,024 pieces, random weights), as an
     * HF folder in {@code dtype}, in one file or two shards: {@code cherryq export --type f32} with that tokenizer,
     * then llama.cpp's mean NLL against the project's on the folder, within 1e-4 relative (flash attention off).
     *
     * @param family a config under core's test resources families/, or "llama-2" (Mistral's without a window)
     * @param window Mistral's sliding_window, set to the evaluation window so that llama.cpp, which ignores it,
     *               computes the same function (the control below shows what a shorter window does)
     */
    @ParameterizedTest(name = "{0} {1} shards={2}")
    @CsvSource({"llama-2, F32, 1, 0", "llama-3.2, BF16, 2, 0", "mistral, BF16, 2, 64", "qwen2.5, F32, 2, 0",
            "qwen3, BF16, 1, 0"})
    void shouldGiveTheProjectsNllInLlamaCppForEveryFamily(String family, DType dtype, int shards, int window)
            throws Exception {
        Path model = familyModel(family, dtype, shards, window, 31);
        Path ids = writeIds("family-ids.json", demoIds(home.resolve("models/demo")));
        Path gguf = dir.resolve(family + "-f32.gguf");
        CliTest.Run export = CliTest.cherryq("export", "--model", model, "--format", "gguf", "--type", "f32", "--out",
                gguf);
        assertEquals(0, export.exitCode(), export.err());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            String architecture = GgufArchitecture.of(checkpoint.config().family()).ggufName();
            assertTrue(export.out().contains("llama.cpp architecture " + architecture), export.out());
            double llamaCpp = llamaCppNll(gguf, ids, Map.of("LLAMA_CPP_FLASH_ATTENTION", "0"));
            double project = projectNll(checkpoint.config(), checkpoint.tensors(), ids);
            double relative = (llamaCpp - project) / project;
            System.out.printf("%s (%s, %s, %d shard(s), %s head): llama.cpp %.6f, project %.6f, relative %+.2e%n",
                    family, architecture, dtype, shards, checkpoint.config().tieWordEmbeddings() ? "tied" : "untied",
                    llamaCpp, project, relative);
            assertTrue(Math.abs(relative) <= 1e-4, family + ": llama.cpp " + llamaCpp + " against the project's "
                    + project);
        }
    }

    /**
     * The block types on the NEOX architectures: Qwen2.5 and Qwen3 (hidden 32, so every matrix but ffn_down, rows of
     * 80, is whole blocks of 32) exported as f16, q8_0 and q4_0; llama.cpp against the project on exactly the weights
     * the file holds ({@code LlamaGgufExport.storedWeights}), within the per-type bounds of the LLaMA rows.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"qwen2.5, F16", "qwen2.5, Q8_0", "qwen2.5, Q4_0", "qwen3, F16", "qwen3, Q8_0", "qwen3, Q4_0"})
    void shouldGiveTheProjectsNllInLlamaCppForTheBlockTypesOnQwen(String family, GgmlType type) throws Exception {
        Path model = familyModel(family, DType.F32, 1, 0, 35);
        Path ids = writeIds("qwen-types-ids.json", demoIds(home.resolve("models/demo")));
        Path gguf = dir.resolve(family + "-" + type.cliName() + ".gguf");
        CliTest.Run export = CliTest.cherryq("export", "--model", model, "--format", "gguf", "--type", type.cliName(),
                "--out", gguf);
        assertEquals(0, export.exitCode(), export.err());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            double llamaCpp = llamaCppNll(gguf, ids, Map.of("LLAMA_CPP_FLASH_ATTENTION", "0"));
            double project = projectNll(checkpoint.config(), LlamaGgufExport.storedWeights(checkpoint, type), ids);
            double source = projectNll(checkpoint.config(), checkpoint.tensors(), ids);
            System.out.printf("%s %s: llama.cpp %.6f, project (same weights) %.6f, diff %+.2e, project (source) %.6f%n",
                    family, type.cliName(), llamaCpp, project, llamaCpp - project, source);
            assertTrue(Math.abs(llamaCpp - project) <= TOLERANCE.get(type), family + " " + type + ": llama.cpp "
                    + llamaCpp + " against the project's " + project);
        }
    }

    /**
     * llama.cpp's {@code llama} architecture does not apply Mistral's sliding window: with a window of 8 over
     * windows of 64 llama.cpp computes the model without it, which the export says (docs/EXPORTS.md).
     */
    @Test
    void shouldShowThatLlamaCppIgnoresMistralsSlidingWindow() throws Exception {
        Path model = familyModel("mistral", DType.F32, 1, 8, 31);
        Path ids = writeIds("window-ids.json", demoIds(home.resolve("models/demo")));
        Path gguf = dir.resolve("mistral-window8.gguf");
        CliTest.Run export = CliTest.cherryq("export", "--model", model, "--format", "gguf", "--type", "f32", "--out",
                gguf);
        assertEquals(0, export.exitCode(), export.err());
        assertTrue(export.out().contains("does not apply the sliding window (8 positions"), export.out());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            LlamaConfig config = checkpoint.config();
            double llamaCpp = llamaCppNll(gguf, ids, Map.of("LLAMA_CPP_FLASH_ATTENTION", "0"));
            double windowed = projectNll(config, checkpoint.tensors(), ids);
            double full = projectNll(config.withFamily(config.family().withSlidingWindow(0)), checkpoint.tensors(), ids);
            System.out.printf("mistral, sliding_window 8, windows of %d: llama.cpp %.6f, project with the window %.6f, "
                    + "without %.6f%n", WINDOW, llamaCpp, windowed, full);
            assertTrue(Math.abs(llamaCpp - full) / full <= 1e-4, "llama.cpp " + llamaCpp + " against " + full);
            assertTrue(Math.abs(llamaCpp - windowed) / windowed > 1e-3, "the window must matter here: " + windowed);
        }
    }

    /**
     * The "load, quantize with cherryq and export": a random Qwen3 (q/k norms, head_dim 16 x 4 heads over a
     * hidden size of 32) quantized by {@code cherryq quantize --method cherryq} (4 bits, groups of 16, 3 QAT steps)
     * with {@code --export gguf:f32}; llama.cpp's NLL of the file equals the project's on the quantized folder (its
     * dense weights, cherries included) within 1e-4 relative.
     */
    @Test
    void shouldGiveTheProjectsNllInLlamaCppForAQwen3QuantizedWithCherryqAndExported() throws Exception {
        Path model = familyModel("qwen3", DType.BF16, 1, 0, 33);
        Path trainText = TestFixtures.cacheDir().resolve("demo/sotu-train.txt");
        if (!Files.isRegularFile(trainText)) {
            unavailable("no " + trainText + " (scripts/prepare-demo-data needs the npm registry)");
        }
        Path text = dir.resolve("qwen3-train.txt");
        Files.writeString(text, Files.readString(trainText, StandardCharsets.UTF_8).substring(0, 20_000));
        Path out = dir.resolve("qwen3-cherryq");
        CliTest.Run quantize = CliTest.cherryq("quantize", "--model", model, "--method", "cherryq", "--bits", 4,
                "--group-size", 16, "--calib-text", text, "--calib-samples", 4, "--train-text", text, "--steps", 3,
                "--seq-len", 32, "--batch-size", 2, "--export", "gguf:f32", "--out", out);
        assertEquals(0, quantize.exitCode(), quantize.err());
        Path gguf = out.resolve("model-f32.gguf");
        assertTrue(quantize.out().contains("wrote " + gguf) && quantize.out().contains("architecture qwen3"),
                quantize.out());
        Path ids = writeIds("qwen3-cherryq-ids.json", demoIds(home.resolve("models/demo")));
        try (LlamaCheckpoint source = LlamaCheckpoint.open(model); LlamaCheckpoint quantized = LlamaCheckpoint.open(out)) {
            long cherries = LlamaGgufExport.cherriesIn(out);
            double llamaCpp = llamaCppNll(gguf, ids, Map.of("LLAMA_CPP_FLASH_ATTENTION", "0"));
            double project = projectNll(quantized.config(), quantized.tensors(), ids);
            double full = projectNll(source.config(), source.tensors(), ids);
            double relative = (llamaCpp - project) / project;
            System.out.printf("qwen3 quantized with cherryq (4-bit g16, 3 QAT steps, %d cherries), f32 GGUF: llama.cpp "
                    + "%.6f, project %.6f, relative %+.2e (source model %.6f)%n", cherries, llamaCpp, project, relative,
                    full);
            assertTrue(cherries > 0, "the quantized model has cherries");
            assertTrue(Math.abs(project - full) > 1e-3, "quantization changed the model: " + project + " vs " + full);
            assertTrue(Math.abs(relative) <= 1e-4, "llama.cpp " + llamaCpp + " against the project's " + project);
        }
    }

    /** A family's test config with the demo tokenizer (vocab 1,024), random weights, as an HF folder. */
    private static Path familyModel(String family, DType dtype, int shards, int window, long seed) {
        ObjectNode json = RandomLlama.familyConfigJson(family.equals("llama-2") ? "mistral" : family);
        if (family.equals("llama-2")) {
            json.putArray("architectures").add("LlamaForCausalLM");
            json.put("model_type", "llama");
            json.remove("sliding_window");
        } else if (family.equals("mistral")) {
            json.put("sliding_window", window);
        }
        json.put("vocab_size", 1024);
        json.put("bos_token_id", 1);
        json.put("eos_token_id", 2);
        LlamaConfig config = RandomLlama.parse(json);
        Map<String, float[]> weights = RandomLlama.weights(config, seed);
        List<TensorData> tensors = new ArrayList<>();
        long total = 0;
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            TensorData data = TensorData.ofFloats(tensor.name(), dtype, tensor.shape(), weights.get(tensor.name()));
            tensors.add(data);
            total += data.byteLength();
        }
        Path folder = dir.resolve(family + "-" + dtype + "-" + shards + "-" + window);
        HfModelWriter.write(folder, config, null, tensors, Map.of(), shards == 1 ? Long.MAX_VALUE : total * 3 / 5);
        HfModelWriter.copyTokenizer(home.resolve("models/demo/tokenizer.json"), folder);
        assertEquals(shards > 1, Files.exists(folder.resolve("model.safetensors.index.json")), folder.toString());
        return folder;
    }

    /** The project's mean NLL over the same windows ({@code CherryqPipeline.evaluate}). */
    private static double projectNll(LlamaConfig config, TensorSource tensors, Path idsFile) throws IOException {
        int[] ids = JSON.readValue(idsFile.toFile(), int[].class);
        try (LlamaModel model = LlamaModel.fromTensors(config, tensors)) {
            return CherryqPipeline.evaluate(model, ids, WINDOW, 0, ids.length / WINDOW, 4, Progress.NONE).meanNll();
        }
    }

    /** llama.cpp's mean NLL, from scripts/llama-cpp-nll.mjs. */
    private static double llamaCppNll(Path gguf, Path idsFile) throws Exception {
        return llamaCppNll(gguf, idsFile, Map.of());
    }

    @Test
    void shouldStoreGptqsSymmetricGridExactlyAndGiveItsNllInLlamaCppForTheDemoAndTheLargerModel() throws Exception {
        // a model quantized on the sym grid in groups of 32 (RTN, cherries by magnitude: the export does not care how
        // the codes were found) is Q4_0 at 4 bits and Q8_0 at 8 bits, block for block; only its cherries are lost
        StringBuilder report = new StringBuilder("sym grid, groups of 32, stored exactly; " + WINDOWS + " windows of "
                + WINDOW + ":");
        List<String> failures = new ArrayList<>();
        for (String name : List.of("demo", "sotu-moby-5m")) {
            Path model = home.resolve("models/" + name);
            Path ids = writeIds(name + "-sym-ids.json", demoIds(model));
            for (int bits : new int[] {4, 8}) {
                GgmlType type = bits == 4 ? GgmlType.Q4_0 : GgmlType.Q8_0;
                QuantSpec spec = new QuantSpec(bits, 32, QuantScheme.SYM);
                Path folder = dir.resolve(name + "-sym" + bits);
                try (LlamaCheckpoint source = LlamaCheckpoint.open(model)) {
                    Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(source.config());
                    Map<String, float[]> linear = new LinkedHashMap<>();
                    shapes.keySet().forEach(tensor -> linear.put(tensor, source.tensors().readFloats(tensor)));
                    CherrySet cherries = CherrySelector.select(SelectionCriterion.MAGNITUDE, 1.0 / 64, linear, shapes,
                            0);
                    PackedModel.write(folder, source.config(), source.tensors(), spec, cherries,
                            PackedModel.quantizationConfig("rtn", spec, cherries), Map.of(), Progress.NONE);
                }
                Path gguf = dir.resolve(name + "-sym" + bits + ".gguf");
                CliTest.Run export = CliTest.cherryq("export", "--model", folder, "--tokenizer",
                        model.resolve("tokenizer.json"), "--format", "gguf", "--type", type.cliName(), "--out", gguf);
                assertEquals(0, export.exitCode(), export.err());
                assertTrue(export.out().contains("the packed grid itself"), export.out());
                try (LlamaCheckpoint quantized = LlamaCheckpoint.open(folder)) {
                    double withCherries = projectNll(quantized.config(), quantized.tensors(), ids);
                    double same = projectNll(quantized.config(), LlamaGgufExport.storedWeights(quantized, type,
                            PackedModel.ggufGrid(folder, type)), ids);
                    double llamaCpp = llamaCppNll(gguf, ids);
                    report.append(String.format("%n  %-12s %d-bit %-5s llama.cpp %.6f  project (same weights) %.6f  "
                            + "diff %+.2e  project with cherries %.6f", name, bits, type.cliName(), llamaCpp, same,
                            llamaCpp - same, withCherries));
                    if (Math.abs(llamaCpp - same) > TOLERANCE.get(type)) {
                        failures.add(name + " " + type + ": llama.cpp " + llamaCpp + " against " + same);
                    }
                }
            }
        }
        System.out.println(report);
        assertTrue(failures.isEmpty(), failures + "\n" + report);
    }

    /** The same with settings of the script's environment (LLAMA_CPP_FLASH_ATTENTION). */
    private static double llamaCppNll(Path gguf, Path idsFile, Map<String, String> settings) throws Exception {
        Map<String, String> environment = new LinkedHashMap<>(settings);
        environment.put("LLAMA_CPP_DIR", llamaCppDir.toString());
        String output = run(home, environment, 300, "node",
                home.resolve("scripts/llama-cpp-nll.mjs").toString(), gguf.toString(), idsFile.toString(),
                String.valueOf(WINDOW));
        String last = output.strip().lines().reduce((first, second) -> second).orElseThrow();
        JsonNode result = JSON.readTree(last);
        assertEquals(WINDOWS, result.path("windows").asInt(), output);
        assertEquals(WINDOWS * (WINDOW - 1), result.path("tokens").asInt(), output);
        return result.path("mean_nll").asDouble();
    }

    /** Held-out SOTU text through the demo tokenizer when the cache has it, else a fixed random sequence. */
    private static int[] demoIds(Path demo) throws IOException {
        Path heldOut = TestFixtures.cacheDir().resolve("demo/sotu-heldout.txt");
        if (!Files.isRegularFile(heldOut)) {
            System.out.println("no " + heldOut + " (scripts/prepare-demo-data): fixed random ids instead");
            return new Random(9).ints(WINDOWS * WINDOW, 0, 1024).toArray();
        }
        String text = Files.readString(heldOut, StandardCharsets.UTF_8);
        try (Tokenizer tokenizer = Tokenizer.load(demo.resolve("tokenizer.json"))) {
            int[] ids = withBos(tokenizer.encode(text.substring(0, Math.min(text.length(), 8000))), 1);
            assertTrue(ids.length >= WINDOWS * WINDOW, "held-out text too short: " + ids.length);
            return Arrays.copyOf(ids, WINDOWS * WINDOW);
        }
    }

    private static int[] withBos(int[] ids, int bos) {
        int[] out = new int[ids.length + 1];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    private static Path writeIds(String name, int[] ids) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, JSON.writeValueAsString(ids));
        return file;
    }

    /** Unknown, BOS, EOS, the 256 byte pieces llama.cpp's sentencepiece vocabulary needs, then plain pieces. */
    private static TokenizerVocabulary syntheticVocabulary(int size) {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        int[] types = new int[size];
        types[0] = TokenizerVocabulary.UNKNOWN;
        types[1] = TokenizerVocabulary.CONTROL;
        types[2] = TokenizerVocabulary.CONTROL;
        for (int id = 3; id < size; id++) {
            pieces.add(id < 259 ? String.format("<0x%02X>", id - 3) : "\u2581w" + id);
            types[id] = id < 259 ? TokenizerVocabulary.BYTE : TokenizerVocabulary.NORMAL;
        }
        return new TokenizerVocabulary("synthetic", pieces, new float[size], types, List.of(), 0);
    }

    /**
     * The inverse of the export's q/k permutation, written here from the two RoPE conventions: llama.cpp's row
     * {@code 2 * pair + member} of a head goes back to HF's row {@code member * half + pair}.
     */
    private static float[] adjacentPairsToHalves(float[] weight, int heads, int headSize, int columns) {
        float[] out = new float[weight.length];
        int half = headSize / 2;
        for (int head = 0; head < heads; head++) {
            for (int row = 0; row < headSize; row++) {
                int target = head * headSize + (row % 2) * half + row / 2;
                System.arraycopy(weight, (head * headSize + row) * columns, out, target * columns, columns);
            }
        }
        return out;
    }

    private static String run(Path workingDirectory, Map<String, String> environment, int timeoutSeconds,
            String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(workingDirectory.toFile());
        builder.environment().putAll(environment);
        Path log = Files.createTempFile(dir, "process", ".log");
        builder.redirectErrorStream(true).redirectOutput(log.toFile());
        Process process = builder.start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
        }
        String output = Files.readString(log);
        if (process.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + process.exitValue() + ":\n"
                    + output);
        }
        return output;
    }

    /** Skips with the reason on a user's machine; fails in CI, where llama.cpp must be available. */
    private static void unavailable(String reason) {
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError("llama.cpp unavailable in CI (CI=true): " + reason);
        }
        Assumptions.abort("SKIPPED: " + reason);
    }
}
