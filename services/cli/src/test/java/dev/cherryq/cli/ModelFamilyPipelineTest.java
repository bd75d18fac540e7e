package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.PackedModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each non-LLaMA family through the one-process pipeline ({@code cherryq quantize --method cherryq}, then
 * {@code eval}) on a tiny random model written as an HF folder (bf16, the family's config.json from core's test
 * resources with the demo tokenizer's vocabulary of 1024): scoring, selection, GPTQ (Qwen3), QAT and export
 * complete, the output reloads as the same family with its biases or q/k norms, and evaluates.
 */
class ModelFamilyPipelineTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DEMO_TOKENIZER = Path.of("../../models/demo/tokenizer.json").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "qwen2.5", "qwen3"})
    void shouldQuantizeWithCherryqReloadAsTheSameFamilyAndEvaluate(String family) throws IOException {
        Path model = randomModel(family);
        LlamaConfig source = LlamaConfig.read(model.resolve("config.json"));
        Path text = text();
        Path out = dir.resolve(family + "-cherryq");
        List<Object> args = new ArrayList<>(List.of("quantize", "--model", model, "--method", "cherryq", "--bits", 3,
                "--group-size", 16, "--calib-text", text, "--calib-samples", 4, "--train-text", text, "--steps", 2,
                "--seq-len", 32, "--batch-size", 2, "--out", out));
        if (family.equals("qwen3")) {
            args.addAll(List.of("--init", "gptq")); // GPTQ's layer-by-layer Hessians through q/k norms
        }
        CliTest.Run run = CliTest.cherryq(args.toArray());
        assertEquals(0, run.exitCode(), run.err());

        // the output is the same family, with its extra tensors in full precision in both forms
        LlamaConfig reloaded = LlamaConfig.read(out.resolve("config.json"));
        assertEquals(source.family(), reloaded.family());
        assertEquals(source, reloaded);
        JsonNode record = JSON.readTree(out.resolve("quantize.json").toFile());
        assertTrue(record.get("cherries").asLong() > 0);
        Map<String, float[]> unpacked = PackedModel.unpack(out);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(out); SafetensorsFile packed =
                SafetensorsFile.open(out.resolve(PackedModel.PACKED_FILE))) {
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(reloaded)) {
                assertArrayEquals(unpacked.get(tensor.name()), checkpoint.tensors().readFloats(tensor.name()), 0f,
                        tensor.name());
            }
            for (String extra : extras(reloaded)) {
                assertEquals(DType.F32, packed.info(extra).dtype(), extra + " is stored in full precision");
                assertFalse(packed.contains(extra + ".qweight"), extra + " is not quantized");
            }
        }

        CliTest.Run eval = CliTest.cherryq("eval", "--model", out, "--text", text, "--seq-len", 32, "--format", "json");
        assertEquals(0, eval.exitCode(), eval.err());
        double meanNll = eval.lastJsonLine().get("mean_nll").asDouble();
        assertTrue(Double.isFinite(meanNll) && meanNll > 0, eval.out());
        CliTest.Run inspect = CliTest.cherryq("inspect", out);
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertTrue(inspect.out().contains("architecture " + source.family().architecture().hfName() + ": 3 layers"),
                inspect.out());
        assertTrue(inspect.out().contains("from LLaMA-2 " + source.family().differences()), inspect.out());
        assertFalse(source.family().differences().equals("none"), family);
    }

    @Test
    void shouldRefuseAnUnsupportedArchitectureInOneLine() throws IOException {
        Path model = randomModel("qwen3");
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.putArray("architectures").add("GemmaForCausalLM");
        Files.writeString(model.resolve("config.json"), config.toString());
        Path out = dir.resolve("refused");
        CliTest.Run run = CliTest.cherryq("quantize", "--model", model, "--method", "rtn", "--bits", 4, "--out", out);
        assertEquals(2, run.exitCode(), run.err());
        String err = run.err().strip();
        assertTrue(err.startsWith("cherryq: error: ") && err.contains("architectures ['GemmaForCausalLM'] is not "
                + "supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)"), err);
        assertEquals(1, err.lines().count(), err);
    }

    @Test
    void shouldRefuseAGgufExportLlamaCppsArchitectureCannotHoldInOneLine() throws IOException {
        Path model = randomModel("qwen2.5");
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.put("head_dim", 16); // 4 heads x 16 = 64 against hidden 32: llama.cpp's qwen2 sizes q as hidden
        Files.writeString(model.resolve("config.json"), config.toString());
        LlamaConfig wide = LlamaConfig.read(model.resolve("config.json"));
        Map<String, float[]> weights = RandomLlama.weights(wide, 7);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(wide)) {
            tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.get(tensor.name())));
        }
        HfModelWriter.write(model, wide, null, tensors, Map.of(), Long.MAX_VALUE);
        Path gguf = dir.resolve("qwen2.gguf");
        CliTest.Run run = CliTest.cherryq("export", "--model", model, "--format", "gguf", "--out", gguf);
        assertEquals(2, run.exitCode(), run.err());
        assertEquals("cherryq: error: GGUF export: llama.cpp's qwen2 architecture needs head_dim x num_attention_heads "
                + "= hidden_size, and this Qwen2ForCausalLM has 16 x 4 = 64 against 32 (export it as an HF folder "
                + "instead)", run.err().strip());
        assertFalse(Files.exists(gguf) || Files.exists(dir.resolve("qwen2.gguf.partial")));
    }

    private static List<String> extras(LlamaConfig config) {
        List<String> names = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            if (tensor.name().endsWith(".bias") || tensor.name().endsWith("_norm.weight")
                    && tensor.name().contains("self_attn")) {
                names.add(tensor.name());
            }
        }
        assertEquals(config.family().queryKeyValueBiases() || config.family().queryKeyNorms(), !names.isEmpty());
        return names;
    }

    /** The family's test config with the demo tokenizer's vocabulary, random bf16 weights and that tokenizer. */
    private Path randomModel(String family) {
        ObjectNode json = RandomLlama.familyConfigJson(family);
        json.put("vocab_size", 1024);
        json.put("bos_token_id", 1);
        LlamaConfig config = RandomLlama.parse(json);
        Map<String, float[]> weights = RandomLlama.weights(config, 7);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.get(tensor.name())));
        }
        Path folder = dir.resolve(family);
        HfModelWriter.write(folder, config, null, tensors, Map.of(), Long.MAX_VALUE);
        HfModelWriter.copyTokenizer(DEMO_TOKENIZER, folder);
        return folder;
    }

    private Path text() throws IOException {
        Path text = dir.resolve("speech.txt");
        String paragraph = "Mr. Speaker, Mr. Vice President, Members of Congress, and my fellow Americans: the state "
                + "of our Union is strong. We have cut taxes, built roads and schools, and kept the peace. ";
        Files.writeString(text, (paragraph.repeat(4) + "\n\n").repeat(8));
        return text;
    }
}
