package dev.cherryq.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hugging Face {@code tokenizer.json} with a BPE model (huggingface/tokenizers, models/bpe), in two flavours:
 * <ul>
 *   <li>SentencePiece style (LLaMA-2): spaces become U+2581 with one prepended, BPE runs over characters, and
 *       symbols missing from the vocabulary fall back to {@code <0xXX>} byte tokens.</li>
 *   <li>Byte level (GPT-2): the GPT-2 regex splits words, each byte maps to a printable character
 *       (bytes_to_unicode), and BPE runs per word.</li>
 * </ul>
 * Merges are applied lowest rank first, leftmost on ties. Added (special) tokens are not parsed out of text.
 * {@link Tokenizer#load} runs tokenizer.json files on HF's own library ({@link HfTokenizer}); this pure-Java
 * implementation reads GPT-2's original encoder.json + vocab.bpe, and the tests hold the two to identical ids.
 */
public final class HfBpeTokenizer implements Tokenizer {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String METASPACE = "\u2581";
    /** GPT-2's pre-tokenizer pattern (openai/gpt-2 encoder.py), as HF's ByteLevel uses it. */
    private static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private enum Flavour { SENTENCEPIECE, BYTE_LEVEL }

    private final String source;
    private final Flavour flavour;
    private final Map<String, Integer> vocabulary;
    private final String[] pieceOfId;
    private final Map<String, Integer> mergeRank;
    private final boolean byteFallback;
    private final Integer unknownId;
    private final Integer bosId;
    private final boolean prependSpace;
    private final char[] byteToChar = new char[256];
    private final Map<Character, Integer> charToByte = new HashMap<>();
    private final Map<String, int[]> wordCache = new ConcurrentHashMap<>();

    private HfBpeTokenizer(String source, Flavour flavour, Map<String, Integer> vocabulary, Map<String, Integer> mergeRank,
            boolean byteFallback, Integer unknownId, Integer bosId, boolean prependSpace) {
        this.source = source;
        this.flavour = flavour;
        this.vocabulary = vocabulary;
        this.mergeRank = mergeRank;
        this.byteFallback = byteFallback;
        this.unknownId = unknownId;
        this.bosId = bosId;
        this.prependSpace = prependSpace;
        int maxId = vocabulary.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.pieceOfId = new String[maxId + 1];
        vocabulary.forEach((piece, id) -> pieceOfId[id] = piece);
        initByteLevelTables();
    }

    /** Reads tokenizer.json; errors name the file and the field. */
    public static HfBpeTokenizer read(Path file) {
        JsonNode root = InputFiles.readJson(file, "tokenizer.json");
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw new InvalidInputException(file + ": field 'model' is missing");
        }
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) {
            throw new InvalidInputException(file + ": model.type '" + type + "' is not supported (supported: BPE)");
        }
        JsonNode vocabNode = model.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw new InvalidInputException(file + ": field 'model.vocab' is missing");
        }
        Map<String, Integer> vocabulary = new HashMap<>();
        vocabNode.properties().forEach(e -> vocabulary.put(e.getKey(), e.getValue().asInt()));
        Map<String, Integer> added = new HashMap<>();
        root.path("added_tokens").forEach(t -> added.put(t.path("content").asText(), t.path("id").asInt()));
        added.forEach(vocabulary::putIfAbsent);
        Map<String, Integer> ranks = parseMerges(file, model.path("merges"));
        boolean byteLevel = mentions(root.get("pre_tokenizer"), "ByteLevel") || mentions(root.get("decoder"), "ByteLevel");
        boolean prependSpace = byteLevel ? addPrefixSpace(root.get("pre_tokenizer")) : true;
        String unk = model.path("unk_token").isTextual() ? model.path("unk_token").asText() : null;
        Integer bos = added.containsKey("<s>") ? added.get("<s>") : added.get("<|begin_of_text|>");
        return new HfBpeTokenizer(file.toString(), byteLevel ? Flavour.BYTE_LEVEL : Flavour.SENTENCEPIECE, vocabulary,
                ranks, model.path("byte_fallback").asBoolean(false), unk == null ? null : vocabulary.get(unk), bos,
                prependSpace);
    }

    /** GPT-2's original files: encoder.json (piece to id) and vocab.bpe (merges, one per line after a version line). */
    public static HfBpeTokenizer readGpt2(Path encoderJson, Path vocabBpe) {
        Map<String, Integer> vocabulary = new HashMap<>();
        Map<String, Integer> ranks = new HashMap<>();
        try {
            JSON.readTree(Files.readString(encoderJson)).properties()
                    .forEach(e -> vocabulary.put(e.getKey(), e.getValue().asInt()));
            int rank = 0;
            for (String line : Files.readAllLines(vocabBpe, StandardCharsets.UTF_8)) {
                if (line.startsWith("#version") || line.isBlank()) {
                    continue;
                }
                String[] parts = line.split(" ");
                if (parts.length != 2) {
                    throw new InvalidInputException(vocabBpe + ": merge line " + (rank + 1) + " is not 'a b'");
                }
                ranks.putIfAbsent(parts[0] + " " + parts[1], rank++);
            }
        } catch (IOException e) {
            throw new InvalidInputException("cannot read GPT-2 tokenizer files " + encoderJson + ", " + vocabBpe + ": "
                    + e.getMessage(), e);
        }
        return new HfBpeTokenizer(encoderJson.getParent().toString(), Flavour.BYTE_LEVEL, vocabulary, ranks, false, null,
                null, false);
    }

    private static Map<String, Integer> parseMerges(Path file, JsonNode merges) {
        Map<String, Integer> ranks = new HashMap<>();
        int rank = 0;
        for (JsonNode merge : merges) {
            String key;
            if (merge.isTextual()) {
                key = merge.asText();
            } else if (merge.isArray() && merge.size() == 2) {
                key = merge.get(0).asText() + " " + merge.get(1).asText();
            } else {
                throw new InvalidInputException(file + ": model.merges[" + rank + "] is neither 'a b' nor [a, b]");
            }
            ranks.putIfAbsent(key, rank++);
        }
        return ranks;
    }

    /** Whether a tokenizer.json component, or any component nested in it, has the given {@code type}. */
    static boolean mentions(JsonNode node, String type) {
        if (node == null || node.isNull()) {
            return false;
        }
        if (type.equals(node.path("type").asText())) {
            return true;
        }
        for (String child : new String[] {"pretokenizers", "decoders", "normalizers"}) {
            for (JsonNode item : node.path(child)) {
                if (mentions(item, type)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean addPrefixSpace(JsonNode preTokenizer) {
        if (preTokenizer == null || preTokenizer.isNull()) {
            return false;
        }
        if (preTokenizer.path("type").asText().equals("ByteLevel")) {
            return preTokenizer.path("add_prefix_space").asBoolean(false);
        }
        for (JsonNode item : preTokenizer.path("pretokenizers")) {
            if (addPrefixSpace(item)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        return flavour == Flavour.BYTE_LEVEL ? encodeByteLevel(text) : encodeSentencePiece(text);
    }

    private int[] encodeSentencePiece(String text) {
        // normalizer: prepend U+2581, replace spaces with U+2581
        String normalized = (prependSpace ? METASPACE : "") + text.replace(" ", METASPACE);
        List<String> symbols = new ArrayList<>();
        normalized.codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
        List<String> merged = BpeMerger.merge(symbols, this::mergePriority);
        List<Integer> ids = new ArrayList<>(merged.size());
        for (String symbol : merged) {
            Integer id = vocabulary.get(symbol);
            if (id != null) {
                ids.add(id);
            } else if (byteFallback) {
                for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                    Integer byteId = vocabulary.get(String.format("<0x%02X>", b & 0xFF));
                    if (byteId == null) {
                        throw new InvalidInputException(source + ": byte_fallback is on but <0x" + String.format("%02X",
                                b & 0xFF) + "> is not in the vocabulary");
                    }
                    ids.add(byteId);
                }
            } else {
                ids.add(requireUnknown(symbol));
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private int[] encodeByteLevel(String text) {
        String input = prependSpace && !text.startsWith(" ") ? " " + text : text;
        List<Integer> ids = new ArrayList<>();
        Matcher matcher = GPT2_SPLIT.matcher(input);
        while (matcher.find()) {
            for (int id : wordCache.computeIfAbsent(matcher.group(), this::encodeByteLevelWord)) {
                ids.add(id);
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private int[] encodeByteLevelWord(String word) {
        List<String> symbols = new ArrayList<>();
        for (byte b : word.getBytes(StandardCharsets.UTF_8)) {
            symbols.add(String.valueOf(byteToChar[b & 0xFF]));
        }
        List<String> merged = BpeMerger.merge(symbols, this::mergePriority);
        int[] ids = new int[merged.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = vocabulary.get(merged.get(i));
            ids[i] = id != null ? id : requireUnknown(merged.get(i));
        }
        return ids;
    }

    private double mergePriority(String left, String right) {
        Integer rank = mergeRank.get(left + " " + right);
        return rank == null ? Double.NaN : rank;
    }

    private int requireUnknown(String symbol) {
        if (unknownId == null) {
            throw new InvalidInputException(source + ": '" + symbol + "' is not in the vocabulary and there is no unk_token");
        }
        return unknownId;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id < 0 || id >= pieceOfId.length || pieceOfId[id] == null) {
                throw new InvalidInputException("token id " + id + " is outside the vocabulary of " + source);
            }
            String piece = pieceOfId[id];
            if (flavour == Flavour.BYTE_LEVEL) {
                for (char c : piece.toCharArray()) {
                    Integer value = charToByte.get(c);
                    if (value != null) {
                        out.write(value);
                    }
                }
            } else if (byteFallback && piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
                out.write(Integer.parseInt(piece.substring(3, 5), 16));
            } else if (bosId != null && id == bosId || isControl(piece)) {
                continue; // special tokens decode to nothing
            } else {
                out.writeBytes(piece.replace(METASPACE, " ").getBytes(StandardCharsets.UTF_8));
            }
        }
        String text = out.toString(StandardCharsets.UTF_8);
        if (flavour == Flavour.SENTENCEPIECE && prependSpace && text.startsWith(" ")) {
            return text.substring(1);
        }
        if (flavour == Flavour.BYTE_LEVEL && prependSpace && text.startsWith(" ")) {
            return text.substring(1);
        }
        return text;
    }

    private static boolean isControl(String piece) {
        return piece.equals("<s>") || piece.equals("</s>") || piece.equals("<unk>");
    }

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n in order. */
    private void initByteLevelTables() {
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + next++);
            byteToChar[b] = c;
            charToByte.put(c, b);
        }
    }

    @Override
    public int vocabSize() {
        return pieceOfId.length;
    }

    @Override
    public OptionalInt bos() {
        return bosId == null ? OptionalInt.empty() : OptionalInt.of(bosId);
    }

    @Override
    public String describe() {
        return "HF BPE " + (flavour == Flavour.BYTE_LEVEL ? "byte-level" : "sentencepiece-style") + " tokenizer "
                + source + " (" + vocabSize() + " tokens)";
    }
}
