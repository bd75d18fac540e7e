package dev.cherryq.core.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.Progress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a LLaMA-style BPE vocabulary (Sennrich et al., 2016): text is normalised as LLaMA-2's tokenizer.json does
 * (U+2581 for spaces, one prepended), split into words at U+2581, and the most frequent adjacent pair is merged until
 * the vocabulary is full (ties broken by the pair's text, so training is deterministic). Ids: 0 unk, 1 BOS, 2 EOS,
 * 3..258 byte-fallback tokens, then the character alphabet, then merges. The result is a standard HF
 * tokenizer.json that {@link HfBpeTokenizer} and Hugging Face tokenizers both load.
 */
public final class BpeTrainer {

    private static final String METASPACE = "\u2581";
    private static final int SPECIAL_AND_BYTE_TOKENS = 3 + 256;

    private BpeTrainer() {}

    /**
     * @param minCharacterCount characters rarer than this are left to byte fallback
     */
    public static ObjectNode train(List<String> documents, int vocabSize, int minCharacterCount, Progress progress) {
        if (vocabSize < SPECIAL_AND_BYTE_TOKENS + 2) {
            throw new InvalidInputException("vocab_size " + vocabSize + " is too small: at least "
                    + (SPECIAL_AND_BYTE_TOKENS + 2) + " (3 special + 256 byte tokens + an alphabet)");
        }
        // word frequencies, each word beginning at a U+2581
        Map<String, Integer> wordCounts = new HashMap<>();
        Map<String, Integer> characterCounts = new HashMap<>();
        for (String document : documents) {
            String normalized = METASPACE + document.replace(" ", METASPACE);
            int start = 0;
            for (int i = 1; i <= normalized.length(); i++) {
                if (i == normalized.length() || normalized.startsWith(METASPACE, i)) {
                    wordCounts.merge(normalized.substring(start, i), 1, Integer::sum);
                    start = i;
                }
            }
            normalized.codePoints().forEach(cp -> characterCounts.merge(Character.toString(cp), 1, Integer::sum));
        }
        // alphabet: frequent characters, most frequent first (ties by text)
        List<String> alphabet = characterCounts.entrySet().stream().filter(e -> e.getValue() >= minCharacterCount)
                .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                .map(Map.Entry::getKey).limit(vocabSize - SPECIAL_AND_BYTE_TOKENS).toList();
        Map<String, Integer> vocabulary = new LinkedHashMap<>();
        vocabulary.put("<unk>", 0);
        vocabulary.put("<s>", 1);
        vocabulary.put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocabulary.put(String.format("<0x%02X>", b), 3 + b);
        }
        alphabet.forEach(c -> vocabulary.putIfAbsent(c, vocabulary.size()));
        // words as symbol lists; characters outside the alphabet are null and never merge
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        wordCounts.forEach((word, count) -> {
            List<String> symbols = new ArrayList<>();
            word.codePoints().forEach(cp -> {
                String c = Character.toString(cp);
                symbols.add(vocabulary.containsKey(c) ? c : null);
            });
            words.add(symbols);
            counts.add(count);
        });
        List<String[]> merges = new ArrayList<>();
        int target = vocabSize - vocabulary.size();
        while (vocabulary.size() < vocabSize) {
            // count adjacent pairs, weighted by word frequency
            Map<String, Long> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> symbols = words.get(w);
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    if (symbols.get(i) != null && symbols.get(i + 1) != null) {
                        pairCounts.merge(symbols.get(i) + " " + symbols.get(i + 1), (long) counts.get(w), Long::sum);
                    }
                }
            }
            String best = null;
            long bestCount = 0;
            for (Map.Entry<String, Long> entry : pairCounts.entrySet()) {
                String pair = entry.getKey();
                long count = entry.getValue();
                if (count > bestCount || (count == bestCount && best != null && pair.compareTo(best) < 0)) {
                    best = pair;
                    bestCount = count;
                }
            }
            if (best == null || bestCount < 2) {
                break; // nothing left worth merging
            }
            int split = best.indexOf(' ');
            String left = best.substring(0, split);
            String right = best.substring(split + 1);
            String merged = left + right;
            merges.add(new String[] {left, right});
            vocabulary.putIfAbsent(merged, vocabulary.size());
            // apply the merge in every word
            for (List<String> symbols : words) {
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    if (left.equals(symbols.get(i)) && right.equals(symbols.get(i + 1))) {
                        symbols.set(i, merged);
                        symbols.remove(i + 1);
                    }
                }
            }
            progress.update(merges.size(), target, "merges");
        }
        return tokenizerJson(vocabulary, merges);
    }

    private static ObjectNode tokenizerJson(Map<String, Integer> vocabulary, List<String[]> merges) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int id = 0; id < specials.length; id++) {
            added.addObject().put("id", id).put("content", specials[id]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode normalizers = normalizer.putArray("normalizers");
        normalizers.addObject().put("type", "Prepend").put("prepend", METASPACE);
        ObjectNode replace = normalizers.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", METASPACE);
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode special = post.putObject("special_tokens").putObject("<s>");
        special.put("id", "<s>");
        special.putArray("ids").add(1);
        special.putArray("tokens").add("<s>");
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        ObjectNode replaceBack = decoders.addObject().put("type", "Replace");
        replaceBack.putObject("pattern").put("String", METASPACE);
        replaceBack.put("content", " ");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        vocabulary.forEach(vocab::put);
        ArrayNode mergeList = model.putArray("merges");
        merges.forEach(m -> mergeList.addArray().add(m[0]).add(m[1]));
        return root;
    }
}
