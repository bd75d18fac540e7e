package dev.cherryq.core;

import java.util.Arrays;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Parsing of the settings that are enums with a name of their own on the command line and in requests (method,
 * start, scheme, criterion, loss): one lookup and one error message for all of them.
 */
public final class WireNames {

    private WireNames() {}

    /**
     * The value whose wire name is {@code name}; else an {@link InvalidInputException} naming {@code field} (a JSON
     * field or a command-line flag) and the supported names, in declaration order.
     */
    public static <E extends Enum<E>> E parse(String field, String name, E[] values, Function<E, String> wireName) {
        for (E value : values) {
            if (wireName.apply(value).equals(name)) {
                return value;
            }
        }
        throw new InvalidInputException(field + " '" + name + "' is not supported (supported: " + names(values, wireName)
                + ")");
    }

    /** The wire names of {@code values}, comma-separated. */
    public static <E extends Enum<E>> String names(E[] values, Function<E, String> wireName) {
        return Arrays.stream(values).map(wireName).collect(Collectors.joining(", "));
    }
}
