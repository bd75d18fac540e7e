package dev.cherryq.core.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * The textbook O(n^2) merge loop, written like llama2.c's run.c encode: scan all adjacent pairs, merge the best
 * (leftmost on ties), repeat. The reference the priority-queue {@link BpeMerger} is checked against.
 */
final class NaiveBpe {

    private NaiveBpe() {}

    static List<String> merge(List<String> input, BpeMerger.PairPriority priority) {
        List<String> symbols = new ArrayList<>(input);
        while (true) {
            double best = Double.POSITIVE_INFINITY;
            int bestIndex = -1;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                double value = priority.of(symbols.get(i), symbols.get(i + 1));
                if (!Double.isNaN(value) && value < best) {
                    best = value;
                    bestIndex = i;
                }
            }
            if (bestIndex < 0) {
                return symbols;
            }
            symbols.set(bestIndex, symbols.get(bestIndex) + symbols.get(bestIndex + 1));
            symbols.remove(bestIndex + 1);
        }
    }
}
