package dev.cherryq.core.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Which tokenizer file a model uses: the one given, else the one in the model's folder (tokenizer.json before a
 * llama2.c tokenizer.bin). Loading it is {@link Tokenizer#load} (or {@link TokenizerVocabulary#read} for GGUF).
 */
public final class TokenizerFiles {

    /** The names a model folder's tokenizer may have, in the order they are looked for. */
    public static final List<String> NAMES = List.of("tokenizer.json", "tokenizer.bin");

    private TokenizerFiles() {}

    /** The tokenizer file in {@code folder}, if it is a folder and holds one. */
    public static Optional<Path> inFolder(Path folder) {
        if (!Files.isDirectory(folder)) {
            return Optional.empty();
        }
        return NAMES.stream().map(folder::resolve).filter(Files::isRegularFile).findFirst();
    }

    /** {@code explicit} when one is given, else the tokenizer in the model folder {@code model}, if any. */
    public static Optional<Path> forModel(Path explicit, Path model) {
        return explicit != null ? Optional.of(explicit) : inFolder(model);
    }
}
