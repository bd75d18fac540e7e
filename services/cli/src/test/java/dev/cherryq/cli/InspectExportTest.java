package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.GgmlType;
import dev.cherryq.core.format.GgufTestReader;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaGgufExport;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.PackedModel;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.core.tokenizer.TokenizerVocabulary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cherryq inspect} of exports: a GGUF file, read back by core's spec-written {@code GgufTestReader} as the
 * reference for tensor counts, types, shapes and bytes (bytes per block from the spec: F32 4 per value, F16 2, Q4_0 18
 * per 32, Q8_0 34 per 32), and a packed quantize folder (its file size over the parameter count).
 */
class InspectExportTest {

    /** ggml type id to name and (values, bytes) per block, from ggml's type table. */
    private static final Map<Integer, Object[]> SPEC = Map.of(0, new Object[] {"F32", 1, 4}, 1,
            new Object[] {"F16", 1, 2}, 2, new Object[] {"Q4_0", 32, 18}, 8, new Object[] {"Q8_0", 32, 34});

    @TempDir
    Path dir;

    @Test
    void shouldDescribeAGgufFileAsTheSpecReadsIt() throws IOException {
        // hidden 64, ffn 80: every matrix whole Q4_0 blocks but ffn_down (rows of 80, stored as F16)
        LlamaConfig config = new LlamaConfig(64, 80, 2, 4, 2, 16, 300, 128, 1e-5, 10000.0, false, 1, 2);
        for (GgmlType type : List.of(GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.F16)) {
            Path gguf = dir.resolve("random-" + type.cliName() + ".gguf");
            LlamaGgufExport.write(new LlamaCheckpoint(dir.resolve("random"), "random", config,
                    RandomLlama.tensors(config, RandomLlama.weights(config, 4))), vocabulary(300), type, gguf,
                    Progress.NONE);
            GgufTestReader reference = GgufTestReader.read(gguf);

            CliTest.Run run = CliTest.cherryq("inspect", gguf, "--format", "json");
            assertEquals(0, run.exitCode(), run.err());
            JsonNode json = run.lastJsonLine();
            assertEquals("gguf", json.get("format").asText());
            assertEquals("llama", json.get("architecture").asText());
            assertEquals(Files.size(gguf), json.get("file_bytes").asLong());
            assertEquals(reference.tensors.size(), json.get("tensors").size());
            long linearBytes = 0;
            long linearElements = 0;
            long allBytes = 0;
            long allElements = 0;
            for (int i = 0; i < reference.tensors.size(); i++) {
                GgufTestReader.Info info = reference.tensors.get(i);
                JsonNode tensor = json.get("tensors").get(i);
                Object[] spec = SPEC.get(info.type());
                long bytes = info.elements() / (int) spec[1] * (int) spec[2];
                assertEquals(info.name(), tensor.get("name").asText());
                assertEquals(spec[0], tensor.get("type").asText(), info.name());
                long[] shape = new long[info.ne().length];
                for (int d = 0; d < shape.length; d++) {
                    shape[d] = info.ne()[shape.length - 1 - d];
                }
                long[] printed = new long[tensor.get("shape").size()];
                for (int d = 0; d < printed.length; d++) {
                    printed[d] = tensor.get("shape").get(d).asLong();
                }
                assertArrayEquals(shape, printed, info.name());
                assertEquals(bytes, tensor.get("bytes").asLong(), info.name());
                allBytes += bytes;
                allElements += info.elements();
                if (info.name().matches("blk\\.\\d+\\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)"
                        + "\\.weight")) {
                    linearBytes += bytes;
                    linearElements += info.elements();
                }
            }
            assertEquals(config.parameterCount(), json.get("parameters").asLong());
            assertEquals(8.0 * linearBytes / linearElements, json.get("linear_bits_per_weight").asDouble(), 1e-12);
            assertEquals(8.0 * allBytes / allElements, json.get("bits_per_weight").asDouble(), 1e-12);
            // by hand: per layer q 64x64, k and v 32x64, o 64x64, gate and up 80x64 in the type, down 64x80 in F16
            long blockValues = 64 * 64 * 2 + 32 * 64 * 2 + 80 * 64 * 2;
            double typeBits = type == GgmlType.F16 ? 16 : type == GgmlType.Q4_0 ? 4.5 : 8.5;
            assertEquals((blockValues * typeBits + 64 * 80 * 16) / (blockValues + 64 * 80),
                    json.get("linear_bits_per_weight").asDouble(), 1e-12, type.cliName());

            CliTest.Run text = CliTest.cherryq("inspect", gguf);
            assertEquals(0, text.exitCode(), text.err());
            assertTrue(text.out().contains(String.format("%.3f per linear weight",
                    json.get("linear_bits_per_weight").asDouble())), text.out());
            assertTrue(text.out().contains("blk.1.ffn_down.weight") && text.out().contains("architecture llama"),
                    text.out());
            System.out.printf("inspect %s: %s%n", gguf.getFileName(), text.out().lines().filter(l ->
                    l.startsWith("bits")).findFirst().orElse(""));
        }
        // a truncated file: one line naming it
        Path truncated = dir.resolve("truncated.gguf");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(dir.resolve("random-q4_0.gguf")), 200));
        CliTest.Run broken = CliTest.cherryq("inspect", truncated);
        assertEquals(2, broken.exitCode(), broken.err());
        assertTrue(broken.err().strip().startsWith("cherryq: error: " + truncated + ": truncated or corrupt GGUF file"),
                broken.err());
        assertEquals(1, broken.err().strip().lines().count(), broken.err());
    }

    @Test
    void shouldDescribeAPackedFolderWithItsSchemeCherriesAndBitsOnDisk() throws IOException {
        LlamaConfig config = new LlamaConfig(64, 96, 2, 4, 2, 16, 300, 128, 1e-5, 10000.0, false, 1, 2);
        Map<String, float[]> weights = RandomLlama.weights(config, 6);
        Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(config);
        Map<String, float[]> linear = new LinkedHashMap<>();
        shapes.keySet().forEach(name -> linear.put(name, weights.get(name)));
        CherrySet cherries = CherrySelector.select(SelectionCriterion.MAGNITUDE, 1.0 / 64, linear, shapes, 0);
        QuantSpec spec = new QuantSpec(4, 32, QuantScheme.SYM);
        Path folder = dir.resolve("packed");
        PackedModel.write(folder, config, RandomLlama.tensors(config, weights), spec, cherries,
                PackedModel.quantizationConfig("rtn", spec, cherries), Map.of(), Progress.NONE);
        CliTest.Run run = CliTest.cherryq("inspect", folder);
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("quantization rtn 4-bit g32 sym, " + cherries.totalCherries() + " cherries"),
                run.out());
        assertTrue(run.out().contains("effective bits per linear weight"), run.out());
        long packedBytes = Files.size(folder.resolve(PackedModel.PACKED_FILE));
        assertTrue(run.out().contains(String.format("%.3f bits per weight overall", 8.0 * packedBytes
                / config.parameterCount())), run.out());
        JsonNode json = CliTest.cherryq("inspect", folder, "--format", "json").lastJsonLine();
        assertEquals(packedBytes, json.get("packed_file_bytes").asLong());
        assertEquals(4, json.get("quantization_config").get("bits").asInt());
        System.out.println(run.out().lines().filter(l -> l.startsWith("quantization") || l.startsWith("    "))
                .reduce("", (a, b) -> a + b + "\n"));
    }

    private static TokenizerVocabulary vocabulary(int size) {
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
}
