package dev.cherryq.fleet.config;

import java.util.List;

/** Invalid configuration at start-up: every bad key with its reason. Services exit non-zero with this message. */
public final class ConfigException extends RuntimeException {

    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super("invalid configuration: " + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
