package dev.cherryq.core.scoring;

import java.util.Arrays;

/**
 * The paper's heterogeneity score of one matrix (Cui and Wang, 2024, Sec. 3): the mean of the top 1% of values
 * divided by the maximum of the bottom 99%. Large values mean a few parameters stand far above the rest.
 */
public final class HeterogeneityScore {

    private HeterogeneityScore() {}

    /** Score of the values (or of their absolute values, for magnitude). */
    public static double of(float[] values, boolean absolute) {
        float[] sorted = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            sorted[i] = absolute ? Math.abs(values[i]) : values[i];
        }
        Arrays.sort(sorted);
        int top = Math.max(1, (int) Math.ceil(sorted.length * 0.01));
        double topMean = 0;
        for (int i = sorted.length - top; i < sorted.length; i++) {
            topMean += sorted[i];
        }
        topMean /= top;
        double bottomMax = sorted[sorted.length - top - 1];
        return bottomMax > 0 ? topMean / bottomMax : Double.POSITIVE_INFINITY;
    }
}
