package dev.cherryq.core.model;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.ShardedSafetensors;
import dev.cherryq.core.format.TensorInfo;
import dev.cherryq.core.format.TensorSource;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.core.tokenizer.TokenizerFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * An opened LLaMA checkpoint: its architecture, its tensors (read lazily, one at a time) and, when the model
 * folder has one, its tokenizer. Opening validates every expected tensor's presence and shape against the
 * architecture, so a mismatch is reported before any compute starts.
 */
public final class LlamaCheckpoint implements AutoCloseable {

    public static final String SAFETENSORS_FILE = "model.safetensors";

    private final Path path;
    private final String format;
    private final LlamaConfig config;
    private final TensorSource tensors;

    public LlamaCheckpoint(Path path, String format, LlamaConfig config, TensorSource tensors) {
        this.path = path;
        this.format = format;
        this.config = config;
        this.tensors = tensors;
    }

    /** Opens an HF LLaMA folder (config.json with model.safetensors or a sharded index) or a llama2.c .bin. */
    public static LlamaCheckpoint open(Path path) {
        if (!Files.exists(path)) {
            throw new InvalidInputException(path + ": no such file or folder");
        }
        LlamaCheckpoint checkpoint;
        if (Files.isDirectory(path)) {
            checkpoint = openHfFolder(path);
        } else if (path.getFileName().toString().endsWith(".bin")) {
            Llama2cCheckpoint llama2c = Llama2cCheckpoint.read(path);
            checkpoint = new LlamaCheckpoint(path, "llama2.c", llama2c.config(), llama2c.toHfTensors(path));
        } else {
            throw new InvalidInputException(path + ": not a model (expected an HF folder with config.json, "
                    + "or a llama2.c checkpoint ending in .bin)");
        }
        try {
            checkpoint.validateShapes();
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
        return checkpoint;
    }

    private static LlamaCheckpoint openHfFolder(Path folder) {
        LlamaConfig config = LlamaConfig.read(folder.resolve(LlamaConfig.CONFIG_FILE));
        Path index = folder.resolve(ShardedSafetensors.INDEX_FILE);
        Path single = folder.resolve(SAFETENSORS_FILE);
        if (Files.isRegularFile(index)) {
            return new LlamaCheckpoint(folder, "hf-safetensors-sharded", config, ShardedSafetensors.open(index));
        }
        if (Files.isRegularFile(single)) {
            return new LlamaCheckpoint(folder, "hf-safetensors", config, SafetensorsFile.open(single));
        }
        throw new InvalidInputException(folder + ": no " + SAFETENSORS_FILE + " or " + ShardedSafetensors.INDEX_FILE
                + " (only safetensors weights are read; convert PyTorch .bin shards with save_pretrained first)");
    }

    /** Every tensor the architecture needs is present with the shape config.json implies. */
    public void validateShapes() {
        for (LlamaTensorNames.NamedShape expected : LlamaTensorNames.expected(config)) {
            if (!tensors.contains(expected.name())) {
                throw new InvalidInputException(path + ": tensor '" + expected.name() + "' is missing (required by "
                        + "config: " + config.numberOfLayers() + " layers" + (config.tieWordEmbeddings() ? ""
                        : ", untied lm_head") + ")");
            }
            TensorInfo info = tensors.info(expected.name());
            if (!Arrays.equals(info.shape(), expected.shape())) {
                throw new InvalidInputException(info.file() + ": tensor '" + expected.name() + "' has shape "
                        + info.shapeString() + " but config.json implies " + Arrays.toString(expected.shape()));
            }
            if (!info.dtype().isFloating()) {
                throw new InvalidInputException(info.file() + ": tensor '" + expected.name() + "' has dtype "
                        + info.dtype().safetensorsName() + "; weights must be F32, F16 or BF16");
            }
        }
    }

    /** The tokenizer shipped in the model folder (tokenizer.json or a llama2.c tokenizer.bin), if any. */
    public Optional<Path> bundledTokenizer() {
        return TokenizerFiles.inFolder(path);
    }

    /**
     * The tokenizer at {@code explicit} when one is given, else the one in the model folder, else a one-line error
     * saying what to give.
     */
    public Tokenizer tokenizer(Path explicit) {
        return TokenizerFiles.forModel(explicit, path).map(Tokenizer::load).orElseThrow(() -> new InvalidInputException(path
                + ": no tokenizer in the model folder; give one (a tokenizer.json or a llama2.c tokenizer .bin; "
                + "on the command line --tokenizer PATH)"));
    }

    public Path path() {
        return path;
    }

    public String format() {
        return format;
    }

    public LlamaConfig config() {
        return config;
    }

    public TensorSource tensors() {
        return tensors;
    }

    @Override
    public void close() {
        tensors.close();
    }
}
