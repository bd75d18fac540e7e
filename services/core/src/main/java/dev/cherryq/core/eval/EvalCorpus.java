package dev.cherryq.core.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.tokenizer.Tokenizer;
import java.nio.file.Path;

/**
 * Turns evaluation input into one token stream.
 *
 * <p>Text mode follows the GPTQ convention (wikitext2 eval: {@code tokenizer("\n\n".join(texts))}): documents are
 * separated by blank lines, line endings are normalised to "\n", documents are joined with "\n\n", the whole
 * text is tokenized once and one BOS (when the tokenizer has one) is put at the start of the stream.
 * {@link DocumentJoin#BOS} instead encodes each document on its own and puts BOS before each, as llama2.c
 * pretokenizes TinyStories for training (tinystories.py: strip, encode with bos=True), which makes a model's
 * published validation loss comparable.
 * Token mode reads a JSON array of ids (or an object with an {@code ids} / {@code input_ids} array) as is.
 */
public final class EvalCorpus {

    private EvalCorpus() {}

    /** How documents become one token stream. */
    public enum DocumentJoin {
        /** GPTQ: join with "\n\n", tokenize once, one BOS at the start. */
        GPTQ,
        /** llama2.c training layout: BOS + encode(document) per document, concatenated. */
        BOS
    }

    /** The blank-line-separated documents of a text file, stripped, empty ones dropped. */
    public static java.util.List<String> readDocuments(Path textFile) {
        String raw = InputFiles.readText(textFile);
        String normalized = raw.replace("\r\n", "\n").replace('\r', '\n');
        // documents are separated by one or more blank lines; join them with exactly "\n\n"
        String[] documents = normalized.strip().split("\n\\s*\n");
        return java.util.Arrays.stream(documents).map(String::strip).filter(d -> !d.isEmpty()).toList();
    }

    /** Tokenizes a text file as described above. */
    public static int[] tokenizeText(Path textFile, Tokenizer tokenizer, DocumentJoin join) {
        java.util.List<String> documents = readDocuments(textFile);
        if (documents.isEmpty()) {
            throw new InvalidInputException(textFile + ": the file holds no text");
        }
        if (join == DocumentJoin.BOS) {
            int bos = tokenizer.bos().orElseThrow(() -> new InvalidInputException(
                    "join bos needs a tokenizer with a BOS token; " + tokenizer.describe() + " has none"));
            java.util.List<int[]> encoded = documents.stream().map(tokenizer::encode).toList();
            int[] ids = new int[encoded.stream().mapToInt(e -> e.length + 1).sum()];
            int position = 0;
            for (int[] document : encoded) {
                ids[position++] = bos;
                System.arraycopy(document, 0, ids, position, document.length);
                position += document.length;
            }
            return ids;
        }
        int[] body = tokenizer.encode(String.join("\n\n", documents));
        if (tokenizer.bos().isEmpty()) {
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = tokenizer.bos().getAsInt();
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }

    public static int[] readTokenIds(Path jsonFile) {
        JsonNode root = InputFiles.readJson(jsonFile, "a JSON array of token ids");
        JsonNode array = root;
        if (root.isObject()) {
            array = root.has("ids") ? root.get("ids") : root.get("input_ids");
        }
        if (array == null || !array.isArray()) {
            throw new InvalidInputException(jsonFile + ": expected a JSON array of token ids (or {\"ids\": [...]})");
        }
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode id = array.get(i);
            if (!id.isIntegralNumber() || !id.canConvertToInt()) {
                throw new InvalidInputException(jsonFile + ": element " + i + " (" + id + ") is not an integer token id");
            }
            ids[i] = id.asInt();
        }
        return ids;
    }
}
