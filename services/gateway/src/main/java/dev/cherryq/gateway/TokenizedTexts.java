package dev.cherryq.gateway;

import dev.cherryq.fleet.storage.Digests;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The planner's last few tokenized texts, keyed by the sha256 of the text and of the tokenizer file, so that jobs on
 * the same text and model (such as the one per method that {@code cherryq run} submits) tokenize it once. Bounded
 * to {@link #ENTRIES} entries, least recently used first out.
 */
final class TokenizedTexts {

    static final int ENTRIES = 4;

    private final Map<String, int[]> entries = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, int[]> eldest) {
            return size() > ENTRIES;
        }
    };

    /** The ids of {@code text} under the tokenizer in {@code tokenizerFile}, from the cache or {@code tokenize}. */
    int[] get(Path text, Path tokenizerFile, Callable<int[]> tokenize) throws Exception {
        String key = key(text, tokenizerFile);
        synchronized (this) {
            int[] cached = entries.get(key);
            if (cached != null) {
                return cached.clone();
            }
        }
        int[] ids = tokenize.call();
        synchronized (this) {
            entries.put(key, ids.clone());
        }
        return ids;
    }

    private static String key(Path text, Path tokenizerFile) throws IOException {
        return Digests.sha256(text) + ":" + Digests.sha256(tokenizerFile);
    }
}
