package dev.cherryq.planner;

import dev.cherryq.fleet.storage.Digests;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The planner's last few tokenized texts, keyed by the sha256 of the text and of the tokenizer file, so that jobs on
 * the same text and model (such as the one per method that {@code cherryq run} submits) tokenize it once. Bounded
 * to {@link #ENTRIES} entries and {@link #MAX_IDS} ids in all (a larger text is not kept), least recently used first
 * out. The key is the text's hash before tokenizing; a file rewritten during tokenization is one the planner reads
 * while a client changes it, which no request may rely on.
 */
final class TokenizedTexts {

    static final int ENTRIES = 4;
    static final long MAX_IDS = 32L << 20; // 128 MiB of int ids

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
        if (ids.length <= MAX_IDS) {
            synchronized (this) {
                entries.put(key, ids.clone());
                var eldest = entries.keySet().iterator();
                while (ids() > MAX_IDS && entries.size() > 1) { // least recently used first
                    eldest.next();
                    eldest.remove();
                }
            }
        }
        return ids;
    }

    private long ids() {
        return entries.values().stream().mapToLong(cached -> cached.length).sum();
    }

    private static String key(Path text, Path tokenizerFile) throws IOException {
        return Digests.sha256(text) + ":" + Digests.sha256(tokenizerFile);
    }
}
