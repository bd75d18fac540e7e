package dev.cherryq.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizedTextsTest {

    @TempDir
    Path directory;

    @Test
    void shouldTokenizeATextOnceUntilTheTextOrTheTokenizerChanges() throws Exception {
        Path text = Files.writeString(directory.resolve("a.txt"), "one text");
        Path tokenizer = Files.writeString(directory.resolve("tokenizer.json"), "{}");
        TokenizedTexts cache = new TokenizedTexts();
        AtomicInteger calls = new AtomicInteger();
        int[] first = cache.get(text, tokenizer, () -> new int[] {calls.incrementAndGet(), 7});
        int[] second = cache.get(text, tokenizer, () -> new int[] {calls.incrementAndGet(), 7});
        assertEquals(1, calls.get(), "the second job on the same text and tokenizer tokenizes nothing");
        assertArrayEquals(first, second);
        second[1] = 99; // callers get copies: one job cannot change another's ids
        assertArrayEquals(new int[] {1, 7}, cache.get(text, tokenizer, () -> new int[0]));
        Files.writeString(text, "another text at the same path");
        cache.get(text, tokenizer, () -> new int[] {calls.incrementAndGet()});
        Files.writeString(tokenizer, "{\"changed\": true}");
        cache.get(text, tokenizer, () -> new int[] {calls.incrementAndGet()});
        assertEquals(3, calls.get(), "a changed text or tokenizer is tokenized again");
    }

    @Test
    void shouldKeepOnlyTheMostRecentTexts() throws Exception {
        Path tokenizer = Files.writeString(directory.resolve("tokenizer.json"), "{}");
        TokenizedTexts cache = new TokenizedTexts();
        AtomicInteger calls = new AtomicInteger();
        for (int i = 0; i <= TokenizedTexts.ENTRIES; i++) {
            Path text = Files.writeString(directory.resolve(i + ".txt"), "text " + i);
            cache.get(text, tokenizer, () -> new int[] {calls.incrementAndGet()});
        }
        cache.get(directory.resolve("0.txt"), tokenizer, () -> new int[] {calls.incrementAndGet()});
        assertEquals(TokenizedTexts.ENTRIES + 2, calls.get(), "the oldest entry was evicted");
    }
}
