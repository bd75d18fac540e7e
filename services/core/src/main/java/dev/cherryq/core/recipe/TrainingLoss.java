package dev.cherryq.core.recipe;

import dev.cherryq.core.WireNames;

/** What QAT minimizes. */
public enum TrainingLoss {
    /** The paper's: next-token cross-entropy on the training text. */
    CROSS_ENTROPY("ce"),
    /**
     * Knowledge distillation from the full-precision model: KL(teacher || student) between the two next-token
     * distributions on the same windows, the teacher's computed without gradients per micro-batch.
     */
    DISTILLATION("kd");

    private final String wireName;

    TrainingLoss(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static TrainingLoss parse(String field, String name) {
        return WireNames.parse(field, name, values(), TrainingLoss::wireName);
    }
}
