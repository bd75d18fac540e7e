package dev.cherryq.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A tokenizer's vocabulary as sentencepiece sees it: pieces by id (spaces as U+2581), a score per piece (higher
 * merges first) and a piece type (sentencepiece's {@code ModelProto.SentencePiece.Type}: 1 normal, 2 unknown,
 * 3 control, 4 user defined, 5 unused, 6 byte), plus the BPE merges when the source has them. This is what a GGUF
 * file's {@code tokenizer.ggml.*} keys carry for llama.cpp's {@code llama} (sentencepiece) tokenizer.
 * <p>
 * Read from a llama2.c tokenizer .bin (pieces and scores as stored, its plain spaces turned back into U+2581, ids 1
 * and 2 named {@code <s>} and {@code </s>} again) or from a sentencepiece-style BPE {@code tokenizer.json} (LLaMA-2
 * style, U+2581 and byte fallback). A tokenizer.json has merge ranks instead of scores; a piece made by the merge of
 * rank r scores -r, so that llama.cpp's sentencepiece merge loop (highest-scoring adjacent pair first) applies the
 * merges in BPE's order. That loop merges any adjacent pair whose concatenation is a piece, where BPE merges only
 * listed pairs, so text may tokenize differently in rare cases; the model's weights are unaffected.
 */
public record TokenizerVocabulary(String source, List<String> pieces, float[] scores, int[] types, List<String> merges,
        int unknownId) {

    public static final String METASPACE = "\u2581";
    public static final int NORMAL = 1;
    public static final int UNKNOWN = 2;
    public static final int CONTROL = 3;
    public static final int USER_DEFINED = 4;
    public static final int UNUSED = 5;
    public static final int BYTE = 6;

    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-F]{2}>");
    /** llama2.c's tokenizer layout: unk, BOS, EOS, then 256 byte pieces (run.c). */
    private static final int LLAMA2C_BYTE_OFFSET = 3;

    public TokenizerVocabulary {
        if (scores.length != pieces.size() || types.length != pieces.size()) {
            throw new IllegalArgumentException("pieces, scores and types differ in length");
        }
    }

    public int size() {
        return pieces.size();
    }

    /** Reads a llama2.c tokenizer .bin or a sentencepiece-style tokenizer.json (a file, or a folder holding one). */
    public static TokenizerVocabulary read(Path path) {
        if (!Files.exists(path)) {
            throw new InvalidInputException(path + ": tokenizer not found");
        }
        if (Files.isDirectory(path)) {
            Optional<Path> file = TokenizerFiles.inFolder(path);
            if (file.isPresent()) {
                return read(file.get());
            }
            throw new InvalidInputException(path + ": no tokenizer.json or tokenizer.bin (the GGUF export takes a "
                    + "sentencepiece-style tokenizer.json or a llama2.c tokenizer .bin)");
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".json")) {
            return fromTokenizerJson(path);
        }
        if (name.endsWith(".bin")) {
            return fromLlama2c(Llama2cTokenizer.read(path), path);
        }
        throw new InvalidInputException(path + ": unknown tokenizer format (expected tokenizer.json or a llama2.c .bin)");
    }

    static TokenizerVocabulary fromLlama2c(Llama2cTokenizer tokenizer, Path file) {
        List<String> pieces = new ArrayList<>();
        int[] types = new int[tokenizer.vocabSize()];
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            String piece = tokenizer.pieces().get(id);
            if (id == 0) {
                types[id] = UNKNOWN;
            } else if (id == 1 || id == 2) {
                types[id] = CONTROL;
                piece = id == 1 ? "<s>" : "</s>"; // llama2.c stores them as "\n<s>\n" and "\n</s>\n"
            } else if (id < LLAMA2C_BYTE_OFFSET + 256) {
                types[id] = BYTE;
            } else {
                types[id] = NORMAL;
                piece = piece.replace(" ", METASPACE); // llama2.c's export wrote U+2581 as a space
            }
            pieces.add(piece);
        }
        return new TokenizerVocabulary(file.toString(), List.copyOf(pieces), tokenizer.scores(), types, List.of(), 0);
    }

    static TokenizerVocabulary fromTokenizerJson(Path file) {
        JsonNode root = InputFiles.readJson(file, "tokenizer.json");
        JsonNode model = root.path("model");
        if (!model.path("type").asText("BPE").equals("BPE") || !model.path("vocab").isObject()) {
            throw new InvalidInputException(file + ": model.type '" + model.path("type").asText() + "' is not supported "
                    + "by the GGUF export (supported: BPE with a model.vocab)");
        }
        if (HfBpeTokenizer.mentions(root.get("pre_tokenizer"), "ByteLevel")
                || HfBpeTokenizer.mentions(root.get("decoder"), "ByteLevel")) {
            throw new InvalidInputException(file + ": a byte-level (GPT-2 style) BPE tokenizer is not supported by the "
                    + "GGUF export yet (supported: sentencepiece-style BPE with U+2581 and byte fallback, as LLaMA-2's, "
                    + "and llama2.c tokenizer .bin files)");
        }
        // pieces by id: the BPE vocabulary, then the added tokens
        Map<Integer, String> pieceOfId = new HashMap<>();
        model.path("vocab").properties().forEach(e -> pieceOfId.put(e.getValue().asInt(), e.getKey()));
        Map<Integer, Integer> addedTypes = new HashMap<>();
        for (JsonNode added : root.path("added_tokens")) {
            int id = added.path("id").asInt();
            pieceOfId.put(id, added.path("content").asText());
            addedTypes.put(id, added.path("special").asBoolean(false) ? CONTROL : USER_DEFINED);
        }
        int size = pieceOfId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (size == 0 || pieceOfId.keySet().stream().anyMatch(id -> id < 0)) {
            throw new InvalidInputException(file + ": model.vocab is empty or has negative ids");
        }
        Map<String, Integer> idOfPiece = new HashMap<>();
        pieceOfId.forEach((id, piece) -> idOfPiece.putIfAbsent(piece, id));
        // merges, as "a b", and the score of each merge's result: -rank of the first merge that makes it
        List<String> merges = new ArrayList<>();
        float[] scores = new float[size];
        Arrays.fill(scores, Float.NaN);
        for (JsonNode merge : model.path("merges")) {
            String left;
            String right;
            if (merge.isTextual() && merge.asText().split(" ").length == 2) {
                left = merge.asText().split(" ")[0];
                right = merge.asText().split(" ")[1];
            } else if (merge.isArray() && merge.size() == 2) {
                left = merge.get(0).asText();
                right = merge.get(1).asText();
            } else {
                throw new InvalidInputException(file + ": model.merges[" + merges.size() + "] is neither 'a b' nor [a, b]");
            }
            Integer made = idOfPiece.get(left + right);
            if (made != null && Float.isNaN(scores[made])) {
                scores[made] = -merges.size();
            }
            merges.add(left + " " + right);
        }
        String unkPiece = model.path("unk_token").isTextual() ? model.path("unk_token").asText() : null;
        int unknownId = unkPiece != null && idOfPiece.containsKey(unkPiece) ? idOfPiece.get(unkPiece) : -1;
        boolean byteFallback = model.path("byte_fallback").asBoolean(false);
        List<String> pieces = new ArrayList<>();
        int[] types = new int[size];
        for (int id = 0; id < size; id++) {
            String piece = pieceOfId.get(id);
            if (piece == null) { // a hole in the ids: a placeholder llama.cpp never produces
                pieces.add("[PAD" + id + "]");
                types[id] = UNUSED;
            } else {
                pieces.add(piece);
                types[id] = id == unknownId ? UNKNOWN
                        : addedTypes.containsKey(id) ? addedTypes.get(id)
                        : byteFallback && BYTE_PIECE.matcher(piece).matches() ? BYTE
                        : NORMAL;
            }
            if (Float.isNaN(scores[id])) {
                scores[id] = types[id] == NORMAL ? -merges.size() : 0; // never a merge result: below every merge
            }
        }
        return new TokenizerVocabulary(file.toString(), List.copyOf(pieces), scores, types, List.copyOf(merges),
                unknownId);
    }

    /**
     * The vocabulary with placeholder pieces (type unused) appended up to {@code vocabSize}, the model's embedding
     * rows; a tokenizer with more pieces than the model has rows is refused.
     */
    public TokenizerVocabulary paddedTo(int vocabSize) {
        if (size() > vocabSize) {
            throw new InvalidInputException(source + ": the tokenizer has " + size() + " pieces but the model's "
                    + "vocab_size is " + vocabSize + "; give the model's own tokenizer");
        }
        if (size() == vocabSize) {
            return this;
        }
        List<String> padded = new ArrayList<>(pieces);
        float[] paddedScores = Arrays.copyOf(scores, vocabSize);
        int[] paddedTypes = Arrays.copyOf(types, vocabSize);
        for (int id = size(); id < vocabSize; id++) {
            padded.add("[PAD" + id + "]");
            paddedTypes[id] = UNUSED;
        }
        return new TokenizerVocabulary(source, List.copyOf(padded), paddedScores, paddedTypes, merges, unknownId);
    }
}
