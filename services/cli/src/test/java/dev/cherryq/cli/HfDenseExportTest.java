package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.format.TensorSource;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code hf-dense} export (docs/EXPORTS.md): a random Qwen2.5 (q/k/v biases, tied head) quantized with cherryq,
 * exported as an HF folder in bf16 ({@code quantize --export hf-dense:bf16}) and in f16 ({@code cherryq export
 * --format hf-dense --dtype f16}). Each folder reloads as the same family, holds exactly the quantized folder's dense
 * weights rounded to its dtype by a rounding written here from the formats' definitions (nearest, ties to even, on
 * bf16's 8 and f16's 11 significant bits, f16's subnormal step 2^-24), and the project's NLL of the folder equals
 * the NLL of those independently rounded weights.
 */
class HfDenseExportTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DEMO_TOKENIZER = Path.of("../../models/demo/tokenizer.json").toAbsolutePath().normalize();
    private static final int WINDOW = 32;

    @TempDir
    static Path dir;

    @BeforeAll
    static void offline() {
        DjlRuntime.ensureOffline();
    }

    @Test
    void shouldExportTheDequantizedWeightsAsAnHfFolderThatReloadsAsTheSameFamilyWithTheSameNll() throws IOException {
        Path model = randomQwen2();
        Path text = text();
        Path quantized = dir.resolve("qwen2-cherryq");
        CliTest.Run quantize = CliTest.cherryq("quantize", "--model", model, "--method", "cherryq", "--bits", 4,
                "--group-size", 16, "--calib-text", text, "--calib-samples", 4, "--train-text", text, "--steps", 2,
                "--seq-len", 32, "--batch-size", 2, "--export", "hf-dense:bf16", "--out", quantized);
        assertEquals(0, quantize.exitCode(), quantize.err());
        Path bf16 = quantized.resolve("hf-dense-bf16");
        assertTrue(quantize.out().contains("wrote " + bf16 + " (HF folder, BF16"), quantize.out());
        Path f16 = dir.resolve("qwen2-f16");
        CliTest.Run export = CliTest.cherryq("export", "--model", quantized, "--format", "hf-dense", "--dtype", "f16",
                "--out", f16);
        assertEquals(0, export.exitCode(), export.err());
        assertTrue(export.out().contains("cherries in place"), export.out());

        int[] ids = ids(text);
        StringBuilder report = new StringBuilder("hf-dense of a cherryq 4-bit Qwen2.5, " + ids.length / WINDOW
                + " windows of " + WINDOW + ":");
        try (LlamaCheckpoint source = LlamaCheckpoint.open(quantized)) {
            double sourceNll = nll(source.config(), source.tensors(), ids);
            report.append(String.format("%n  quantized folder (f32 dense) %.6f", sourceNll));
            for (Path folder : List.of(bf16, f16)) {
                DType dtype = folder == bf16 ? DType.BF16 : DType.F16;
                JsonNode config = JSON.readTree(folder.resolve("config.json").toFile());
                assertFalse(config.has("quantization_config"), "plain dense weights: " + config);
                assertEquals(cherries(quantized), config.path("cherryq_export").path("cherries").asLong());
                assertTrue(Files.isRegularFile(folder.resolve("tokenizer.json")), "the tokenizer travels along");
                assertFalse(Files.exists(folder.resolveSibling(folder.getFileName() + ".partial")));
                try (SafetensorsFile file = SafetensorsFile.open(folder.resolve("model.safetensors"));
                        LlamaCheckpoint exported = LlamaCheckpoint.open(folder)) {
                    assertEquals(source.config(), exported.config(), "reloads as the same family and shape");
                    InMemoryTensors rounded = new InMemoryTensors(folder);
                    for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(source.config())) {
                        assertEquals(dtype, file.info(tensor.name()).dtype(), tensor.name());
                        float[] expected = round(source.tensors().readFloats(tensor.name()), dtype);
                        assertArrayEquals(expected, exported.tensors().readFloats(tensor.name()), 0f, tensor.name());
                        rounded.put(tensor.name(), tensor.shape(), expected);
                    }
                    double exportedNll = nll(exported.config(), exported.tensors(), ids);
                    double reference = nll(source.config(), rounded, ids);
                    report.append(String.format("%n  %-4s folder %.6f, the test's rounding of the source %.6f "
                            + "(diff %+.1e), against the source %+.2e", dtype, exportedNll, reference,
                            exportedNll - reference, exportedNll - sourceNll));
                    assertEquals(reference, exportedNll, 1e-6, report.toString());
                    assertTrue(Math.abs(exportedNll - sourceNll) < (dtype == DType.BF16 ? 2e-2 : 2e-3),
                            report.toString());
                }
            }
        }
        System.out.println(report);

        // eval --write-ids: the ids it evaluated, which --token-ids (and scripts/llama-cpp-nll.mjs) read back
        Path idsFile = dir.resolve("bf16-ids.json");
        CliTest.Run fromText = CliTest.cherryq("eval", "--model", bf16, "--text", text, "--seq-len", WINDOW,
                "--write-ids", idsFile, "--format", "json");
        assertEquals(0, fromText.exitCode(), fromText.err());
        int[] written = JSON.readValue(idsFile.toFile(), int[].class);
        assertEquals(fromText.lastJsonLine().get("input_tokens").asLong(), written.length);
        CliTest.Run fromIds = CliTest.cherryq("eval", "--model", bf16, "--token-ids", idsFile, "--seq-len", WINDOW,
                "--format", "json");
        assertEquals(0, fromIds.exitCode(), fromIds.err());
        assertEquals(fromText.lastJsonLine().get("mean_nll").asDouble(),
                fromIds.lastJsonLine().get("mean_nll").asDouble(), 0.0);
    }

    @Test
    void shouldRefuseAnOccupiedOutputOrABadDtypeInOneLineAndWriteNothing() throws IOException {
        Path model = randomQwen2();
        Path occupied = dir.resolve("occupied");
        Files.createDirectories(occupied);
        Files.writeString(occupied.resolve("keep.txt"), "mine");
        CliTest.Run run = CliTest.cherryq("export", "--model", model, "--format", "hf-dense", "--out", occupied);
        assertEquals(2, run.exitCode(), run.err());
        assertEquals("cherryq: error: " + occupied + " already exists and is not an empty folder; give a new folder "
                + "for the HF export", run.err().strip());
        assertEquals(List.of("keep.txt"), Files.list(occupied).map(p -> p.getFileName().toString()).toList());
        Path fresh = dir.resolve("fresh");
        run = CliTest.cherryq("export", "--model", model, "--format", "hf-dense", "--dtype", "int8", "--out", fresh);
        assertEquals(2, run.exitCode(), run.err());
        assertEquals("cherryq: error: --dtype 'int8' is not supported (supported: bf16, f16, f32)", run.err().strip());
        run = CliTest.cherryq("quantize", "--model", model, "--method", "rtn", "--bits", 4, "--group-size", 16,
                "--export", "hf-dense:q4", "--out", fresh);
        assertEquals(2, run.exitCode(), run.err());
        assertEquals("cherryq: error: --export hf-dense dtype 'q4' is not supported (supported: bf16, f16, f32)",
                run.err().strip());
        assertFalse(Files.exists(fresh) || Files.exists(dir.resolve("fresh.partial")), "nothing written");
    }

    /**
     * Nearest, ties to even, on the format's grid around x: bf16 keeps 8 significant bits at every exponent; f16 keeps
     * 11 down to 2^-14 and steps by 2^-24 below. (The values here are far inside both ranges.)
     */
    static float[] round(float[] values, DType dtype) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            double x = values[i];
            if (x == 0) {
                out[i] = values[i];
                continue;
            }
            int exponent = Math.getExponent(values[i]);
            double step = dtype == DType.BF16 ? Math.scalb(1.0, exponent - 7)
                    : Math.scalb(1.0, Math.max(exponent, -14) - 10);
            out[i] = (float) (Math.rint(x / step) * step);
        }
        return out;
    }

    private static double nll(LlamaConfig config, TensorSource tensors, int[] ids) {
        try (LlamaModel model = LlamaModel.fromTensors(config, tensors)) {
            return CherryqPipeline.evaluate(model, ids, WINDOW, 0, ids.length / WINDOW, 4, Progress.NONE).meanNll();
        }
    }

    private static int[] ids(Path text) throws IOException {
        try (Tokenizer tokenizer = Tokenizer.load(DEMO_TOKENIZER)) {
            int[] ids = tokenizer.encode(Files.readString(text));
            return Arrays.copyOf(ids, Math.min(ids.length, 8 * WINDOW));
        }
    }

    /** Core's Qwen2.5 test config with the demo tokenizer's vocabulary, random bf16 weights and that tokenizer. */
    private static Path randomQwen2() {
        Path folder = dir.resolve("qwen2.5");
        if (Files.isDirectory(folder)) {
            return folder;
        }
        ObjectNode json = RandomLlama.familyConfigJson("qwen2.5");
        json.put("vocab_size", 1024);
        json.put("bos_token_id", 1);
        LlamaConfig config = RandomLlama.parse(json);
        Map<String, float[]> weights = RandomLlama.weights(config, 13);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.get(tensor.name())));
        }
        HfModelWriter.write(folder, config, null, tensors, Map.of(), Long.MAX_VALUE);
        HfModelWriter.copyTokenizer(DEMO_TOKENIZER, folder);
        return folder;
    }

    private static Path text() throws IOException {
        Path text = dir.resolve("speech.txt");
        String paragraph = "Mr. Speaker, Mr. Vice President, Members of Congress, and my fellow Americans: the state "
                + "of our Union is strong. We have cut taxes, built roads and schools, and kept the peace. ";
        Files.writeString(text, (paragraph.repeat(4) + "\n\n").repeat(8));
        return text;
    }

    /** The cherries a quantized folder records (config.json's quantization_config.cherries). */
    private static long cherries(Path folder) throws IOException {
        return JSON.readTree(folder.resolve("config.json").toFile()).path("quantization_config").path("cherries")
                .asLong();
    }
}
