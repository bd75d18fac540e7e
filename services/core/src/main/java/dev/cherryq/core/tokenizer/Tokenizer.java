package dev.cherryq.core.tokenizer;

import dev.cherryq.core.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Text to token ids and back. {@link #encode} adds no special tokens; callers prepend BOS when they want it.
 * tokenizer.json files run on HF's own tokenizers library ({@link HfTokenizer}); llama2.c tokenizers and GPT-2's
 * original encoder.json + vocab.bpe run on this package's pure-Java BPE.
 */
public interface Tokenizer extends AutoCloseable {

    int[] encode(String text);

    String decode(int[] ids);

    int vocabSize();

    /** The beginning-of-sequence id, when the tokenizer has one (GPT-2 has none). */
    OptionalInt bos();

    /** A short description for logs and reports, e.g. "llama2.c tokenizer.bin (512 tokens)". */
    String describe();

    /** Releases native resources, if any. */
    @Override
    default void close() {}

    /**
     * Loads a tokenizer from a file or a folder: tokenizer.json (HF BPE), a llama2.c tokenizer .bin, or a folder
     * holding one of these or GPT-2's encoder.json + vocab.bpe.
     */
    static Tokenizer load(Path path) {
        if (!Files.exists(path)) {
            throw new InvalidInputException(path + ": tokenizer not found");
        }
        if (Files.isDirectory(path)) {
            Optional<Path> file = TokenizerFiles.inFolder(path);
            if (file.isPresent()) {
                return load(file.get());
            }
            if (Files.isRegularFile(path.resolve("encoder.json")) && Files.isRegularFile(path.resolve("vocab.bpe"))) {
                return HfBpeTokenizer.readGpt2(path.resolve("encoder.json"), path.resolve("vocab.bpe"));
            }
            throw new InvalidInputException(path + ": no tokenizer.json, tokenizer.bin, or encoder.json + vocab.bpe");
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".json")) {
            return HfTokenizer.read(path);
        }
        if (name.endsWith(".bin")) {
            return Llama2cTokenizer.read(path);
        }
        throw new InvalidInputException(path + ": unknown tokenizer format (expected tokenizer.json or a llama2.c .bin)");
    }
}
