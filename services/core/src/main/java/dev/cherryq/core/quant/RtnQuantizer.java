package dev.cherryq.core.quant;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.format.TensorSource;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The round-to-nearest baseline: every decoder linear weight (q, k, v, o, gate, up, down) is group-quantized and
 * dequantized in place; embeddings, norms and lm_head stay as they are. The output is an HF folder of dense f32
 * weights, with the format recorded under {@code quantization_config} in config.json.
 */
public final class RtnQuantizer {

    private static final ObjectMapper JSON = new ObjectMapper();

    private RtnQuantizer() {}

    /** Quantizes the checkpoint and writes the result; tensors are read, quantized and written one at a time. */
    public static void quantize(LlamaCheckpoint checkpoint, QuantSpec spec, Path outputFolder, Progress progress) {
        LlamaConfig config = checkpoint.config();
        TensorSource source = checkpoint.tensors();
        Set<String> linear = new HashSet<>(LlamaTensorNames.linearWeights(config));
        List<LlamaTensorNames.NamedShape> expected = LlamaTensorNames.expected(config);
        AtomicLong done = new AtomicLong();
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : expected) {
            tensors.add(new TensorData(tensor.name(), DType.F32, tensor.shape(), () -> {
                float[] values = source.readFloats(tensor.name());
                if (linear.contains(tensor.name())) {
                    int rows = (int) tensor.shape()[0];
                    int columns = (int) tensor.shape()[1];
                    values = GroupQuantizer.quantize(values, rows, columns, spec).dequantize();
                }
                progress.update(done.incrementAndGet(), expected.size(), tensor.name());
                ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(values);
                return bytes;
            }));
        }
        HfModelWriter.write(outputFolder, config, quantizationConfig("rtn", spec), tensors,
                Map.of("cherryq.method", "rtn"), Long.MAX_VALUE);
        checkpoint.bundledTokenizer().ifPresent(tokenizer -> HfModelWriter.copyTokenizer(tokenizer, outputFolder));
    }

    /** The {@code quantization_config} entry describing a method and format. */
    public static ObjectNode quantizationConfig(String method, QuantSpec spec) {
        ObjectNode extra = JSON.createObjectNode();
        ObjectNode quantization = extra.putObject("quantization_config");
        quantization.put("quant_method", "cherryq");
        quantization.put("method", method);
        quantization.put("bits", spec.bits());
        quantization.put("group_size", spec.groupSize());
        quantization.put("scheme", spec.scheme().cliName());
        quantization.put("weights", "dense-dequantized");
        quantization.putArray("modules").add("q_proj").add("k_proj").add("v_proj").add("o_proj").add("gate_proj")
                .add("up_proj").add("down_proj");
        return extra;
    }
}
