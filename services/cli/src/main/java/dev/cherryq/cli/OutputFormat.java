package dev.cherryq.cli;

/** How a command prints its result: a human-readable table, or one JSON object on the last line of stdout. */
enum OutputFormat { text, json }
