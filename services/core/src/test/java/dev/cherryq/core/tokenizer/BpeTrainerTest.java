package dev.cherryq.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.eval.EvalCorpus;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTrainerTest {

    @TempDir
    Path dir;

    @Test
    void shouldTrainAVocabularyThatHfTokenizersLoadsAndAgreesWith() throws IOException {
        List<String> documents = EvalCorpus.readDocuments(TestFixtures.registry("datasets-moby-dick/data/chapter_1.txt"));
        ObjectNode json = BpeTrainer.train(documents, 400, 2, Progress.NONE);
        Path file = dir.resolve("tokenizer.json");
        new ObjectMapper().writeValue(file.toFile(), json);
        Tokenizer hf = Tokenizer.load(file);
        HfBpeTokenizer java = HfBpeTokenizer.read(file);
        assertTrue(hf instanceof HfTokenizer);
        assertEquals(400, hf.vocabSize());
        String text = String.join("\n\n", documents);
        int[] ids = hf.encode(text);
        assertArrayEquals(ids, java.encode(text), "HF tokenizers and the pure-Java BPE agree on the trained vocab");
        assertEquals(text, hf.decode(ids));
        // without merges every character is at least one id; ~80 merges on one chapter save well over a quarter
        assertTrue(ids.length < 0.7 * text.length(), "merges compress the training text: " + ids.length + " ids for "
                + text.length() + " characters");
        String unseen = "Zebra-crossing 🦓 in Zürich";
        assertEquals(unseen, hf.decode(hf.encode(unseen)), "byte fallback covers unseen characters");
    }
}
