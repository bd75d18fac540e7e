package dev.cherryq.core.selection;

import dev.cherryq.core.WireNames;

/** How cherries are ranked within a row. */
public enum SelectionCriterion {
    /** Highest impact (empirical Fisher diagonal): the paper's criterion. */
    IMPACT("impact"),
    /**
     * Highest impact times squared rounding error, F_ii (w_i - q(w_i))^2: what a weight loses to rounding, weighted by
     * how much the loss cares ({@link SaliencyScores}).
     */
    SALIENCY("saliency"),
    /**
     * The Fisher-weighted rounding error a weight's removal saves its whole group, the group's grid refitted without
     * it ({@link GroupAwareScores}).
     */
    GROUP_AWARE("group-aware"),
    /** Largest |w|: the magnitude baseline of the paper's ablation. */
    MAGNITUDE("magnitude"),
    /** Uniformly random positions (seeded): the control of the ablation. */
    RANDOM("random");

    private final String cliName;

    SelectionCriterion(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    public static SelectionCriterion parse(String name) {
        return parse("criterion", name);
    }

    /** Parses a name; the error names {@code field} (a JSON field or a command-line flag) and the supported values. */
    public static SelectionCriterion parse(String field, String name) {
        return WireNames.parse(field, name, values(), SelectionCriterion::cliName);
    }
}
