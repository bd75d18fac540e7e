package dev.cherryq.core.qat;

import dev.cherryq.core.InvalidInputException;

/**
 * Hyperparameters of one QAT run, derived from a {@link dev.cherryq.core.recipe.QuantizationRecipe}, which owns the
 * defaults and the validation of what a user sets; the checks here guard the trainer's own invariants. The CherryQ
 * reference: AdamW (0.9, 0.95), weight decay 0, cosine schedule with 5% warm-up decaying to a floor of lr x 0.25 at
 * 3-bit and lr x 0.1 at 4-bit, gradient-norm clipping at 1.0 (the Hugging Face Trainer default the reference runs on).
 *
 * @param cherryLearningRateScale cherries' step size as a multiple of the schedule's rate (1 = the reference's)
 * @param trainable which tensors are updated (the reference: all)
 */
public record QatSettings(int steps, int batchSize, int sequenceLength, int gradientAccumulation, float learningRate,
        double warmupFraction, double floorFraction, float weightDecay, float gradientClip, long seed,
        int checkpointEvery, float cherryLearningRateScale, TrainableParameters trainable) {

    /** The reference's parameter updates: cherries at the common rate, every tensor trained. */
    public QatSettings(int steps, int batchSize, int sequenceLength, int gradientAccumulation, float learningRate,
            double warmupFraction, double floorFraction, float weightDecay, float gradientClip, long seed,
            int checkpointEvery) {
        this(steps, batchSize, sequenceLength, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                weightDecay, gradientClip, seed, checkpointEvery, 1f, TrainableParameters.ALL);
    }

    public QatSettings {
        if (steps < 1) {
            throw new InvalidInputException("steps: " + steps + " must be at least 1");
        }
        if (batchSize < 1) {
            throw new InvalidInputException("batch_size: " + batchSize + " must be at least 1");
        }
        if (sequenceLength < 2) {
            throw new InvalidInputException("seq_len: " + sequenceLength + " must be at least 2");
        }
        if (gradientAccumulation < 1) {
            throw new InvalidInputException("grad_accum: " + gradientAccumulation + " must be at least 1");
        }
        if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
            throw new InvalidInputException("lr: " + learningRate + " must be positive and finite");
        }
        if (checkpointEvery < 0) {
            throw new InvalidInputException("checkpoint_every: " + checkpointEvery + " must be 0 (never) or positive");
        }
        if (!(cherryLearningRateScale > 0) || !Float.isFinite(cherryLearningRateScale)) {
            throw new InvalidInputException("cherry_lr_scale: " + cherryLearningRateScale
                    + " must be positive and finite");
        }
        if (trainable == null) {
            throw new InvalidInputException("trainable: null; one of " + TrainableParameters.names());
        }
    }

    /** The paper's floor for a bit width: 0.25 at 3 bits and below, 0.1 above. */
    public static double defaultFloor(int bits) {
        return bits <= 3 ? 0.25 : 0.1;
    }

    /** Everything that changes the trajectory (not checkpointEvery), for checkpoint fingerprints. */
    public String trajectoryKey() {
        return "steps=" + steps + ",batch=" + batchSize + ",seq=" + sequenceLength + ",accum=" + gradientAccumulation
                + ",lr=" + learningRate + ",warmup=" + warmupFraction + ",floor=" + floorFraction + ",wd=" + weightDecay
                + ",clip=" + gradientClip + ",seed=" + seed
                // only when set, so that checkpoints written before these settings existed still match
                + (cherryLearningRateScale != 1f ? ",cherryLr=" + cherryLearningRateScale : "")
                + (trainable != TrainableParameters.ALL ? ",trainable=" + trainable.wireName() : "");
    }
}
