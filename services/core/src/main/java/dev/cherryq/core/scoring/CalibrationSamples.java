package dev.cherryq.core.scoring;

import dev.cherryq.core.Fingerprints;
import dev.cherryq.core.InvalidInputException;
import java.util.SplittableRandom;

/**
 * N calibration samples of L tokens cut from one token stream at seeded random offsets (as GPTQ and the CherryQ
 * reference sample random segments of C4). Sample i is the same on every machine for the same stream and seed, so
 * shards [from, to) of the sample range can be scored independently.
 */
public final class CalibrationSamples {

    private final int[] tokens;
    private final int sampleCount;
    private final int sampleLength;
    private final long seed;
    private final int[] offsets;
    private final String fingerprint;

    public CalibrationSamples(int[] tokens, int sampleCount, int sampleLength, long seed) {
        if (sampleCount < 1) {
            throw new InvalidInputException("calibration_samples " + sampleCount + " must be at least 1");
        }
        if (sampleLength < 2) {
            throw new InvalidInputException("seq_len " + sampleLength + " must be at least 2 for calibration");
        }
        if (tokens.length < sampleLength) {
            throw new InvalidInputException("calibration text has " + tokens.length + " tokens, shorter than one sample of "
                    + sampleLength + " tokens: give at least " + sampleLength + " tokens of text (about "
                    + sampleLength * 4 + " characters of English) or a smaller seq_len");
        }
        this.tokens = tokens;
        this.sampleCount = sampleCount;
        this.sampleLength = sampleLength;
        this.seed = seed;
        this.offsets = new int[sampleCount];
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < sampleCount; i++) {
            offsets[i] = random.nextInt(tokens.length - sampleLength + 1);
        }
        this.fingerprint = "calib:" + Fingerprints.of(tokens) + ":n=" + sampleCount + ":l=" + sampleLength + ":seed=" + seed;
    }

    public int count() {
        return sampleCount;
    }

    public int length() {
        return sampleLength;
    }

    public long seed() {
        return seed;
    }

    /** Sample i as int64 ids, (1, length). */
    public long[] sample(int index) {
        long[] ids = new long[sampleLength];
        for (int i = 0; i < sampleLength; i++) {
            ids[i] = tokens[offsets[index] + i];
        }
        return ids;
    }

    /** Identifies the token stream, N, L and seed: partials merge only when this matches. */
    public String fingerprint() {
        return fingerprint;
    }
}
