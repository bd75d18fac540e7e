package dev.cherryq.core.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Byte-pair merging over a symbol sequence: repeatedly merge the adjacent pair with the best priority, the
 * leftmost one on ties, until no pair is mergeable. This is llama2.c's encode loop (best score first) and HF
 * tokenizers' BPE word merge (lowest merge rank first), run in O(n log n) with a priority queue and lazy
 * invalidation instead of a rescan per merge.
 */
final class BpeMerger {

    /** Priority of merging left+right; lower merges first; {@link Double#NaN} when the pair does not merge. */
    interface PairPriority {
        double of(String left, String right);
    }

    private BpeMerger() {}

    static List<String> merge(List<String> symbols, PairPriority priority) {
        int n = symbols.size();
        if (n < 2) {
            return new ArrayList<>(symbols);
        }
        String[] symbol = symbols.toArray(new String[0]);
        int[] next = new int[n];
        int[] previous = new int[n];
        int[] version = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            previous[i] = i - 1;
            alive[i] = true;
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, priority, symbol, version, i, i + 1);
        }
        while (!queue.isEmpty()) {
            Candidate candidate = queue.poll();
            int left = candidate.left;
            int right = candidate.right;
            // stale: one side was merged away or changed since this candidate was queued
            if (!alive[left] || !alive[right] || next[left] != right || version[left] != candidate.leftVersion
                    || version[right] != candidate.rightVersion) {
                continue;
            }
            symbol[left] = symbol[left] + symbol[right];
            version[left]++;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) {
                previous[next[right]] = left;
            }
            if (previous[left] >= 0) {
                offer(queue, priority, symbol, version, previous[left], left);
            }
            if (next[left] >= 0) {
                offer(queue, priority, symbol, version, left, next[left]);
            }
        }
        List<String> merged = new ArrayList<>();
        for (int i = 0; i >= 0; i = next[i]) {
            merged.add(symbol[i]);
        }
        return merged;
    }

    private static void offer(PriorityQueue<Candidate> queue, PairPriority priority, String[] symbol, int[] version,
            int left, int right) {
        double value = priority.of(symbol[left], symbol[right]);
        if (!Double.isNaN(value)) {
            queue.add(new Candidate(value, left, right, version[left], version[right]));
        }
    }

    private record Candidate(double priority, int left, int right, int leftVersion, int rightVersion)
            implements Comparable<Candidate> {
        @Override
        public int compareTo(Candidate other) {
            int byPriority = Double.compare(priority, other.priority);
            return byPriority != 0 ? byPriority : Integer.compare(left, other.left);
        }
    }
}
