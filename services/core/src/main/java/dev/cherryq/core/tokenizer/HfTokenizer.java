package dev.cherryq.core.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Any Hugging Face {@code tokenizer.json}, run by HF's own Rust tokenizers library through DJL (its natives ship in
 * the Maven Central jar, so it works offline). Encoding adds no special tokens and never truncates. BOS is the
 * token the file's own post-processor puts in front of a sequence (as {@code tokenizer(text)} does in Python), found
 * by encoding a probe with and without special tokens; a tokenizer whose post-processor adds none has no BOS.
 */
public final class HfTokenizer implements Tokenizer {

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final Integer bosId;

    private HfTokenizer(Path file, HuggingFaceTokenizer tokenizer, int vocabSize, Integer bosId) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
    }

    public static HfTokenizer read(Path file) {
        JsonNode root = InputFiles.readJson(file, "tokenizer.json");
        if (!root.path("model").isObject()) {
            throw new InvalidInputException(file + ": field 'model' is missing (not a tokenizer.json)");
        }
        int maxId = -1;
        for (JsonNode id : (Iterable<JsonNode>) () -> root.path("model").path("vocab").elements()) {
            maxId = Math.max(maxId, id.isInt() ? id.asInt() : -1);
        }
        for (JsonNode added : root.path("added_tokens")) {
            maxId = Math.max(maxId, added.path("id").asInt());
        }
        DjlRuntime.ensureOffline();
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(file).optAddSpecialTokens(false)
                    .optTruncation(false).optMaxLength(Integer.MAX_VALUE).build();
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException(file + ": HF tokenizers rejected the file: " + e.getMessage(), e);
        }
        return new HfTokenizer(file, tokenizer, maxId + 1, prependedSpecialToken(tokenizer));
    }

    /** The id the post-processor prepends to a single sequence, or null when it prepends nothing. */
    private static Integer prependedSpecialToken(HuggingFaceTokenizer tokenizer) {
        long[] plain = tokenizer.encode("a", false, false).getIds();
        long[] special = tokenizer.encode("a", true, false).getIds();
        if (special.length > plain.length && (plain.length == 0 || special[0] != plain[0])) {
            return Math.toIntExact(special[0]);
        }
        return null;
    }

    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new InvalidInputException("token id " + ids[i] + " is outside the vocabulary of " + file);
            }
            longs[i] = ids[i];
        }
        return tokenizer.decode(longs, true);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public OptionalInt bos() {
        return bosId == null ? OptionalInt.empty() : OptionalInt.of(bosId);
    }

    @Override
    public String describe() {
        return "HF tokenizers " + file + " (" + vocabSize + " tokens)";
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
