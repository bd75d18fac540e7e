package dev.cherryq.core.scoring;

import java.util.Arrays;

/**
 * The paper's heterogeneity score of one matrix (Cui and Wang, 2024, Sec. 3): the mean of the top 1% of values
 * divided by the maximum of the bottom 99%. Large values mean a few parameters stand far above the rest.
 *
 * <p>Only the boundary and the top 1% need ordering, so the two boundary values are found by a radix selection over
 * the values' bits (two counting passes each, linear in the matrix) and only the top 1% is sorted. The result equals
 * that of sorting all values bit for bit: the same elements, added in the same ascending order.
 */
public final class HeterogeneityScore {

    private HeterogeneityScore() {}

    /** Score of the values (or of their absolute values, for magnitude); at least two values. */
    public static double of(float[] values, boolean absolute) {
        int n = values.length;
        if (n < 2) {
            throw new IllegalArgumentException("a heterogeneity score needs at least 2 values, not " + n);
        }
        int[] keys = new int[n]; // [n] each value's bits, ordered as unsigned ints as Float.compare orders the values
        for (int i = 0; i < n; i++) {
            keys[i] = orderedBits(absolute ? Math.abs(values[i]) : values[i]);
        }
        int top = Math.max(1, (int) Math.ceil(n * 0.01));
        int lowestOfTop = keyAtRank(keys, n - top); // ascending ranks: the top is n - top .. n - 1
        double bottomMax = valueOf(keyAtRank(keys, n - top - 1));
        int above = 0; // the top's values greater than its lowest; the rest of the top equals the lowest
        for (int key : keys) {
            above += Integer.compareUnsigned(key, lowestOfTop) > 0 ? 1 : 0;
        }
        float[] greater = new float[above];
        int next = 0;
        for (int key : keys) {
            if (Integer.compareUnsigned(key, lowestOfTop) > 0) {
                greater[next++] = valueOf(key);
            }
        }
        Arrays.sort(greater);
        double topMean = 0; // summed in ascending order, as over a sorted copy
        for (int i = 0; i < top - above; i++) {
            topMean += valueOf(lowestOfTop);
        }
        for (float value : greater) {
            topMean += value;
        }
        topMean /= top;
        return bottomMax > 0 ? topMean / bottomMax : Double.POSITIVE_INFINITY;
    }

    /** The float's bits mapped so that unsigned int order is {@link Float#compare}'s order (-0 before 0, NaN last). */
    static int orderedBits(float value) {
        int bits = Float.floatToIntBits(value);
        return bits ^ ((bits >> 31) & 0x7fffffff) ^ 0x80000000;
    }

    /** The inverse of {@link #orderedBits}. */
    static float valueOf(int orderedBits) {
        int flipped = orderedBits ^ 0x80000000;
        return Float.intBitsToFloat(flipped ^ ((flipped >> 31) & 0x7fffffff));
    }

    /** The key at an ascending rank (0-based) of keys in unsigned order: a two-pass radix selection, 16 bits a pass. */
    static int keyAtRank(int[] keys, int rank) {
        int[] counts = new int[1 << 16];
        for (int key : keys) {
            counts[key >>> 16]++;
        }
        int below = 0; // keys in buckets before the one holding the rank
        int high = 0;
        while (below + counts[high] <= rank) {
            below += counts[high++];
        }
        Arrays.fill(counts, 0);
        for (int key : keys) {
            if (key >>> 16 == high) {
                counts[key & 0xffff]++;
            }
        }
        int low = 0;
        while (below + counts[low] <= rank) {
            below += counts[low++];
        }
        return high << 16 | low;
    }
}
