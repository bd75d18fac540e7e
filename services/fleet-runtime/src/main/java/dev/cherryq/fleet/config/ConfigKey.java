package dev.cherryq.fleet.config;

import java.util.function.Function;

/**
 * One typed configuration parameter: its environment-variable name, how to parse it, its default (null = required
 * unless {@code optional}), whether it is a secret (redacted in logs), and what it means.
 */
public record ConfigKey<T>(String name, Function<String, T> parser, String defaultValue, boolean required,
        boolean secret, String description) {

    public static ConfigKey<String> string(String name, String defaultValue, String description) {
        return new ConfigKey<>(name, value -> value, defaultValue, false, false, description);
    }

    public static ConfigKey<String> secret(String name, String description) {
        return new ConfigKey<>(name, value -> value, null, false, true, description);
    }

    public static ConfigKey<Integer> integer(String name, int defaultValue, int min, int max, String description) {
        return new ConfigKey<>(name, value -> {
            int parsed;
            try {
                parsed = Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + value + "' is not an integer");
            }
            if (parsed < min || parsed > max) {
                throw new IllegalArgumentException(parsed + " is outside " + min + ".." + max);
            }
            return parsed;
        }, Integer.toString(defaultValue), false, false, description);
    }

    public static ConfigKey<Boolean> bool(String name, boolean defaultValue, String description) {
        return new ConfigKey<>(name, value -> switch (value.trim().toLowerCase()) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default -> throw new IllegalArgumentException("'" + value + "' is not true or false");
        }, Boolean.toString(defaultValue), false, false, description);
    }

    public static <E extends Enum<E>> ConfigKey<E> choice(String name, Class<E> type, E defaultValue, String description) {
        return new ConfigKey<>(name, value -> {
            for (E constant : type.getEnumConstants()) {
                if (constant.name().equalsIgnoreCase(value.trim())) {
                    return constant;
                }
            }
            throw new IllegalArgumentException("'" + value + "' is not one of " + java.util.Arrays.toString(
                    type.getEnumConstants()).toLowerCase());
        }, defaultValue == null ? null : defaultValue.name().toLowerCase(), false, false, description);
    }

    public ConfigKey<T> requiredKey() {
        return new ConfigKey<>(name, parser, null, true, secret, description);
    }
}
