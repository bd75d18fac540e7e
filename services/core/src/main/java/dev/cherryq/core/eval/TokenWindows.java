package dev.cherryq.core.eval;

import dev.cherryq.core.InvalidInputException;

/**
 * The window protocol used everywhere in CherryQ: consecutive non-overlapping chunks of N ids, a trailing shorter
 * chunk dropped; each chunk predicts its positions 1..N-1 (so N-1 predicted tokens per window).
 */
public record TokenWindows(int[] tokens, int sequenceLength) {

    public TokenWindows {
        if (sequenceLength < 2) {
            throw new InvalidInputException("seq_len " + sequenceLength + " is too small: a window needs at least 2 tokens");
        }
        if (tokens.length < sequenceLength) {
            throw new InvalidInputException("the text has " + tokens.length + " tokens, shorter than one window of seq_len "
                    + sequenceLength + ": give more text or a smaller seq_len");
        }
    }

    public int count() {
        return tokens.length / sequenceLength;
    }

    public long predictedTokens() {
        return (long) count() * (sequenceLength - 1);
    }

    /** Windows [first, first+n) as int64 ids, row-major (n, sequenceLength). */
    public long[] batch(int first, int n) {
        long[] ids = new long[n * sequenceLength];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokens[first * sequenceLength + i];
        }
        return ids;
    }
}
