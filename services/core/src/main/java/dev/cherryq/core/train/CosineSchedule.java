package dev.cherryq.core.train;

/**
 * Learning rate per step: linear warm-up over the first {@code warmupFraction} of the steps, then a half cosine
 * from the peak down to {@code peak * floorFraction} at the last step (CherryQ's reference schedule uses a 5%
 * warm-up and a floor of 0.25 at 3-bit, 0.1 at 4-bit).
 */
public record CosineSchedule(float peak, double warmupFraction, double floorFraction, int totalSteps) {

    public float at(int step) {
        int warmup = (int) Math.ceil(warmupFraction * totalSteps);
        if (step < warmup) {
            return peak * (step + 1) / warmup;
        }
        double progress = totalSteps - warmup <= 1 ? 1 : (double) (step - warmup) / (totalSteps - warmup - 1);
        double floor = peak * floorFraction;
        return (float) (floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
    }
}
