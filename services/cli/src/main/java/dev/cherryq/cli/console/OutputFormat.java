package dev.cherryq.cli.console;

/** How a command prints its result: a human-readable table, or one JSON object on the last line of stdout. */
public enum OutputFormat { text, json }
