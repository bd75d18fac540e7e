package dev.cherryq.core.model;

import dev.cherryq.core.format.OutputFolders;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.TensorData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A checkpoint re-saved as a plain Hugging Face folder in F32, F16 or BF16 (the layout of transformers'
 * {@code save_pretrained}: config.json, model.safetensors or numbered shards with model.safetensors.index.json, and
 * the tokenizer), one tensor read, converted and written at a time. {@code cherryq convert} (llama2.c or any model
 * to an HF folder) and the {@code hf-dense} export (a quantized folder's dense weights, cherries included, for any
 * engine that loads HF checkpoints) both write through here.
 * <p>
 * The folder's config.json is the family's own ({@link LlamaConfig#toHfJson}), so it reloads as the same family; it
 * carries no {@code quantization_config} (the weights are plain dense tensors, and an engine that sees one would look
 * for packed weights), only, for a quantized source, a {@code cherryq_export} note saying where the weights come
 * from. Each value is rounded to the dtype to nearest, ties to even ({@link TensorData#ofFloats}). The folder is
 * written under {@code OUT.partial} and moved into place: nothing half-written is left under the real name.
 */
public final class HfDenseExport {

    /** The dtypes written, by their command-line names. */
    public static final Map<String, DType> DTYPES = Map.of("f32", DType.F32, "f16", DType.F16, "bf16", DType.BF16);

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfDenseExport() {}

    /** What was written: the folder, its dtype, tensor count and bytes, and the cherries of the source kept in it. */
    public record Result(Path folder, DType dtype, int tensors, long bytes, long cherries) {}

    /** The dtype of a command-line name (f32, f16, bf16, any case), or a one-line error naming {@code field}. */
    public static DType parseDtype(String field, String name) {
        DType dtype = DTYPES.get(name.toLowerCase(java.util.Locale.ROOT));
        if (dtype == null) {
            throw new InvalidInputException(field + " '" + name + "' is not supported (supported: bf16, f16, f32)");
        }
        return dtype;
    }

    /** Refuses an output that exists and is not an empty folder, before any work. */
    public static void requireFreshOutput(Path out) {
        try {
            if (Files.isRegularFile(out) || Files.isDirectory(out) && Files.list(out).findAny().isPresent()) {
                throw new InvalidInputException(out + " already exists and is not an empty folder; give a new folder "
                        + "for the HF export");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + out, e);
        }
    }

    /**
     * Writes {@code checkpoint} as an HF folder at {@code out}.
     *
     * @param tokenizer copied into the folder; null for the checkpoint's bundled one (if any)
     * @param metadata safetensors {@code __metadata__} entries
     */
    public static Result write(LlamaCheckpoint checkpoint, DType dtype, Path tokenizer, Path out,
            Map<String, String> metadata, long maxShardBytes, Progress progress) {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new InvalidInputException("dtype " + dtype + " is not supported for an HF folder (supported: F32, "
                    + "F16, BF16)");
        }
        requireFreshOutput(out);
        LlamaConfig config = checkpoint.config();
        List<LlamaTensorNames.NamedShape> expected = LlamaTensorNames.expected(config);
        List<TensorData> tensors = new ArrayList<>();
        int[] done = {0};
        for (LlamaTensorNames.NamedShape tensor : expected) {
            // read, convert and write one tensor at a time: the heap never holds the whole checkpoint
            tensors.add(new TensorData(tensor.name(), dtype, tensor.shape(), () -> {
                float[] values = checkpoint.tensors().readFloats(tensor.name());
                progress.update(++done[0], expected.size(), tensor.name());
                return TensorData.ofFloats(tensor.name(), dtype, tensor.shape(), values).bytes().get();
            }));
        }
        long cherries = LlamaGgufExport.cherriesIn(checkpoint.path());
        ObjectNode note = null;
        Path sourceConfig = checkpoint.path().resolve(LlamaConfig.CONFIG_FILE);
        if (Files.isRegularFile(sourceConfig) && dev.cherryq.core.InputFiles.readJson(sourceConfig,
                "an HF config.json").has("quantization_config")) {
            note = JSON.createObjectNode();
            note.putObject("cherryq_export")
                    .put("source", checkpoint.path().toAbsolutePath().normalize().getFileName().toString())
                    .put("dtype", dtype.safetensorsName())
                    .put("cherries", cherries)
                    .put("note", "dense weights of a cherryq quantized model (its grid values and cherries), "
                            + "rounded to " + dtype.safetensorsName() + "; no quantization_config: plain weights");
        }
        Path partial = out.resolveSibling(out.getFileName() + ".partial");
        try {
            OutputFolders.deleteRecursively(partial);
            HfModelWriter.write(partial, config, note, tensors, metadata, maxShardBytes);
            Path tokenizerFile = tokenizer != null ? tokenizer : checkpoint.bundledTokenizer().orElse(null);
            if (tokenizerFile != null) {
                HfModelWriter.copyTokenizer(tokenizerFile, partial);
            }
            if (Files.isDirectory(out)) {
                Files.delete(out); // empty (checked above)
            }
            Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
            long bytes;
            try (Stream<Path> files = Files.list(out)) {
                bytes = files.filter(file -> file.getFileName().toString().endsWith(".safetensors"))
                        .mapToLong(file -> file.toFile().length()).sum();
            }
            return new Result(out, dtype, expected.size(), bytes, cherries);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write HF folder " + out, e);
        } finally {
            try {
                OutputFolders.deleteRecursively(partial);
            } catch (IOException ignored) {
                // best effort: a failed write leaves at most OUT.partial, never OUT
            }
        }
    }
}
