package dev.cherryq.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BpeMergerTest {

    @Test
    void shouldAgreeWithNaiveMergeLoopOnRandomVocabularies() {
        Random random = new Random(9);
        for (int trial = 0; trial < 300; trial++) {
            // random merge table over a 3-letter alphabet, with deliberate priority ties
            Map<String, Double> table = new HashMap<>();
            String[] alphabet = {"a", "b", "c"};
            List<String> pieces = new ArrayList<>(List.of(alphabet));
            for (int m = 0; m < 12; m++) {
                String left = pieces.get(random.nextInt(pieces.size()));
                String right = pieces.get(random.nextInt(pieces.size()));
                table.putIfAbsent(left + " " + right, (double) random.nextInt(6));
                pieces.add(left + right);
            }
            List<String> input = new ArrayList<>();
            for (int i = 0; i < 1 + random.nextInt(40); i++) {
                input.add(alphabet[random.nextInt(3)]);
            }
            BpeMerger.PairPriority priority = (l, r) -> table.getOrDefault(l + " " + r, Double.NaN);
            assertEquals(NaiveBpe.merge(input, priority), BpeMerger.merge(input, priority), "input " + input);
        }
    }
}
