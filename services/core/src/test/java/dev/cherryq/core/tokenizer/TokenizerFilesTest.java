package dev.cherryq.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which tokenizer file a model uses, against folders laid out by hand. */
class TokenizerFilesTest {

    @Test
    void shouldPreferTokenizerJsonToTokenizerBinInAModelFolder(@TempDir Path folder) throws IOException {
        assertEquals(Optional.empty(), TokenizerFiles.inFolder(folder));
        Path bin = Files.writeString(folder.resolve("tokenizer.bin"), "");
        assertEquals(Optional.of(bin), TokenizerFiles.inFolder(folder));
        Path json = Files.writeString(folder.resolve("tokenizer.json"), "{}");
        assertEquals(Optional.of(json), TokenizerFiles.inFolder(folder));
    }

    @Test
    void shouldFindNoneBesideAModelFileAndTakeTheOneGivenFirst(@TempDir Path folder) throws IOException {
        Path model = Files.writeString(folder.resolve("model.bin"), "");
        Files.writeString(folder.resolve("tokenizer.json"), "{}");
        assertEquals(Optional.empty(), TokenizerFiles.forModel(null, model), "a llama2.c file has no folder of its own");
        Path given = folder.resolve("elsewhere.json");
        assertEquals(Optional.of(given), TokenizerFiles.forModel(given, folder));
        assertEquals(Optional.of(folder.resolve("tokenizer.json")), TokenizerFiles.forModel(null, folder));
    }
}
