package dev.cherryq.core.recipe;

import dev.cherryq.core.WireNames;

/**
 * How a job's quantization-aware training is cut up: the whole model against the text's loss, or one decoder block
 * at a time against the full-precision block's outputs (block-wise, after EfficientQAT's Block-AP, Chen et al., 2024,
 * with CherryQ's cherries kept in full precision: {@link dev.cherryq.core.qat.BlockwiseTrainer}).
 */
public enum TrainingMode {
    /** The paper's: every parameter of the model trained together on the training text's loss. */
    END_TO_END("end-to-end"),
    /**
     * Each decoder block trained alone to reproduce the full-precision block's outputs (mean squared error) on the
     * full-precision model's block inputs over the same windows end-to-end training would see; blocks are
     * independent, so they can train on different workers.
     */
    BLOCKWISE("blockwise");

    private final String wireName;

    TrainingMode(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static TrainingMode parse(String field, String name) {
        return WireNames.parse(field, name, values(), TrainingMode::wireName);
    }
}
