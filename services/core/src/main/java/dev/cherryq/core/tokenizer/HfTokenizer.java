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
 *
 * <p>Long texts: HF returns an Encoding with tokens, offsets and masks for every token, about 200 bytes per token
 * in the heap, so a 10 MB text would take gigabytes at once. For LLaMA-style files (normalizer = prepend U+2581 and
 * replace spaces, no pre-tokenizer, no newline in the vocabulary, so no merge can cross a newline) the text is
 * encoded in chunks that start right after a newline: each later chunk is encoded as "\n" + chunk and the ids of
 * "\n" alone are checked and stripped, which gives exactly the ids of encoding the whole text. Other tokenizers
 * encode the whole text in one call.
 */
public final class HfTokenizer implements Tokenizer {

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final Integer bosId;
    /** True when a newline is a hard token boundary and no normalizer step depends on context beyond it. */
    private final boolean newlineIsBoundary;
    private int chunkCharacters = 1 << 18;

    private HfTokenizer(Path file, HuggingFaceTokenizer tokenizer, int vocabSize, Integer bosId,
            boolean newlineIsBoundary) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
        this.newlineIsBoundary = newlineIsBoundary;
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
        return new HfTokenizer(file, tokenizer, maxId + 1, prependedSpecialToken(tokenizer), newlineIsBoundary(root));
    }

    /** LLaMA-style: BPE, no pre-tokenizer, normalizer only Prepend(U+2581) and Replace(" ", U+2581), no "\n" token. */
    private static boolean newlineIsBoundary(JsonNode root) {
        JsonNode model = root.path("model");
        if (!model.path("type").asText("BPE").equals("BPE") || model.path("vocab").has("\n")) {
            return false;
        }
        JsonNode preTokenizer = root.get("pre_tokenizer");
        if (preTokenizer != null && !preTokenizer.isNull()) {
            return false;
        }
        JsonNode normalizer = root.path("normalizer");
        if (!normalizer.path("type").asText().equals("Sequence")) {
            return false;
        }
        for (JsonNode step : normalizer.path("normalizers")) {
            String type = step.path("type").asText();
            boolean prepend = type.equals("Prepend") && step.path("prepend").asText().equals("\u2581");
            boolean replace = type.equals("Replace") && step.path("pattern").path("String").asText().equals(" ")
                    && step.path("content").asText().equals("\u2581");
            if (!prepend && !replace) {
                return false;
            }
        }
        return true;
    }

    /** For tests: the chunk size above which long texts are encoded in pieces. */
    void setChunkCharacters(int characters) {
        this.chunkCharacters = characters;
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
        if (!newlineIsBoundary || text.length() <= chunkCharacters) {
            return encodeWhole(text);
        }
        long[] newline = tokenizer.encode("\n", false, false).getIds(); // e.g. [U+2581, <0x0A>]
        java.util.List<int[]> pieces = new java.util.ArrayList<>();
        int start = 0;
        while (start < text.length()) {
            int newlineAt = start + chunkCharacters >= text.length() ? -1 : text.indexOf('\n', start + chunkCharacters);
            int end = newlineAt < 0 ? text.length() : newlineAt + 1; // each chunk ends right after a newline
            if (start == 0) {
                pieces.add(encodeWhole(text.substring(0, end)));
            } else {
                long[] ids = tokenizer.encode("\n" + text.substring(start, end), false, false).getIds();
                if (!startsWith(ids, newline)) {
                    return encodeWhole(text); // the assumption does not hold for this file: no shortcut
                }
                int[] piece = new int[ids.length - newline.length];
                for (int i = 0; i < piece.length; i++) {
                    piece[i] = Math.toIntExact(ids[newline.length + i]);
                }
                pieces.add(piece);
            }
            start = end;
        }
        return pieces.stream().flatMapToInt(java.util.Arrays::stream).toArray();
    }

    private int[] encodeWhole(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    private static boolean startsWith(long[] ids, long[] prefix) {
        if (ids.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (ids[i] != prefix[i]) {
                return false;
            }
        }
        return true;
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
