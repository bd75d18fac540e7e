package dev.cherryq.core.eval;

import dev.cherryq.core.InvalidInputException;
import java.util.Arrays;

/**
 * Whether an evaluation text is held out from the texts a job learns from (calibration and training): the number
 * of evaluation windows that contain any span of {@code span} consecutive token ids found anywhere in those texts.
 * A result is only called held out when that number is 0. Spans are compared by a 64-bit polynomial rolling hash
 * (Karp and Rabin, 1987) of the ids, sorted and binary-searched: O((n + m) log n) time, 8 bytes per learned position.
 */
public final class HeldOutCheck {

    /** Tokens in a shared span: long enough that a match is copied text rather than a common phrase. */
    public static final int DEFAULT_SPAN = 64;

    private static final long BASE = 0x9E3779B97F4A7C15L; // odd: multiplication by it is a bijection mod 2^64

    /**
     * @param windows evaluation windows checked
     * @param windowsSharingText those with at least one span found in a learned text
     * @param span tokens per compared span
     */
    public record Result(int windows, int windowsSharingText, int span) {

        public boolean heldOut() {
            return windowsSharingText == 0;
        }

        /** "held out (no 64-token span of 120 windows ...)" or "NOT held out: 3 of 120 windows ...". */
        public String describe() {
            return heldOut() ? String.format("held out: none of its %d windows shares a %d-token span with the "
                    + "calibration or training text", windows, span)
                    : String.format("NOT held out: %d of its %d windows share a %d-token span with the calibration or "
                    + "training text", windowsSharingText, windows, span);
        }
    }

    private HeldOutCheck() {}

    /**
     * @param evaluation the evaluation ids, cut into windows of {@code windowLength} as evaluation cuts them
     * @param learned the calibration and training ids
     */
    public static Result check(int[] evaluation, int windowLength, int span, int[]... learned) {
        if (span < 1 || span > windowLength) {
            throw new InvalidInputException("span " + span + " must be in 1.." + windowLength + " (the window length)");
        }
        long[] hashes = Arrays.stream(learned).flatMapToLong(ids -> Arrays.stream(spanHashes(ids, 0, ids.length, span)))
                .sorted().toArray();
        int windows = evaluation.length / windowLength;
        int sharing = 0;
        for (int window = 0; window < windows; window++) {
            int from = window * windowLength;
            for (long hash : spanHashes(evaluation, from, from + windowLength, span)) {
                if (Arrays.binarySearch(hashes, hash) >= 0) {
                    sharing++;
                    break;
                }
            }
        }
        return new Result(windows, sharing, span);
    }

    /** The hash of every span of {@code span} ids within [from, to): to - from - span + 1 values (none if shorter). */
    static long[] spanHashes(int[] ids, int from, int to, int span) {
        int count = Math.max(0, to - from - span + 1);
        long[] hashes = new long[count];
        if (count == 0) {
            return hashes;
        }
        long leading = 1; // BASE^(span-1): the weight of the id leaving the span
        for (int i = 1; i < span; i++) {
            leading *= BASE;
        }
        long hash = 0;
        for (int i = from; i < from + span; i++) {
            hash = hash * BASE + (ids[i] + 1L);
        }
        hashes[0] = hash;
        for (int start = 1; start < count; start++) {
            // drop ids[start - 1], take in ids[start + span - 1]
            hash = (hash - (ids[from + start - 1] + 1L) * leading) * BASE + (ids[from + start + span - 1] + 1L);
            hashes[start] = hash;
        }
        return hashes;
    }
}
