package dev.cherryq.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.eval.EvalCorpus;
import java.util.List;
import org.junit.jupiter.api.Test;

/** On the real stories260K tokenizer (tok512.bin) and TinyStories text. */
class Llama2cTokenizerTest {

    @Test
    void shouldRoundTripTinyStoriesParagraphs() {
        Llama2cTokenizer tokenizer = Llama2cTokenizer.read(TestFixtures.tok512());
        List<String> documents = EvalCorpus.readDocuments(TestFixtures.shared("data/tinystories/tinystories_val_sample.txt"));
        for (String document : documents.subList(0, 300)) {
            assertEquals(document, tokenizer.decode(tokenizer.encode(document)));
        }
        assertEquals(512, tokenizer.vocabSize());
    }

    @Test
    void shouldRoundTripNonAsciiThroughByteTokens() {
        Llama2cTokenizer tokenizer = Llama2cTokenizer.read(TestFixtures.tok512());
        String text = "Zoë said \"naïve\" — 猫 🦙!\nNew line.";
        int[] ids = tokenizer.encode(text);
        assertEquals(text, tokenizer.decode(ids));
        assertTrue(java.util.Arrays.stream(ids).anyMatch(id -> id >= 3 && id < 259), "emoji needs byte tokens");
    }

    @Test
    void shouldMatchRunCMergeLoopOnRealText() {
        Llama2cTokenizer tokenizer = Llama2cTokenizer.read(TestFixtures.tok512());
        List<String> documents = EvalCorpus.readDocuments(TestFixtures.shared("data/tinystories/tinystories_train_sample.txt"));
        RunCEncoder reference = new RunCEncoder(TestFixtures.tok512());
        for (String document : documents.subList(0, 100)) {
            assertArrayEquals(reference.encode(document), tokenizer.encode(document), document);
        }
    }

    @Test
    void shouldEncodeEmptyTextToNothing() {
        assertEquals(0, Llama2cTokenizer.read(TestFixtures.tok512()).encode("").length);
    }
}
