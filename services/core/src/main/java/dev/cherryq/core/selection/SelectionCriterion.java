package dev.cherryq.core.selection;

import dev.cherryq.core.InvalidInputException;

/** How cherries are ranked within a row. */
public enum SelectionCriterion {
    /** Highest impact (empirical Fisher diagonal): the paper's criterion. */
    IMPACT("impact"),
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
        for (SelectionCriterion criterion : values()) {
            if (criterion.cliName.equals(name)) {
                return criterion;
            }
        }
        throw new InvalidInputException("--criterion '" + name + "' is not supported (supported: impact, magnitude, random)");
    }
}
