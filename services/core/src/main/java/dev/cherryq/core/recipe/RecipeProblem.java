package dev.cherryq.core.recipe;

/**
 * One invalid setting: the recipe field (its JSON and proto name), the value given, and what is allowed. Front ends
 * render it in their own words: the fleet as {@code "bits: 9 is out of range 2..8"}, the command line with the
 * flag that maps to the field.
 */
public record RecipeProblem(String field, String value, String requirement) {

    /** {@code "field: value requirement"}. */
    public String describe() {
        return field + ": " + value + " " + requirement;
    }
}
