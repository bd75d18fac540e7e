/**
 * The {@code cherryq} command: thin picocli front ends over services/core, the launcher and the bench module.
 * {@link dev.cherryq.cli.CherryqCommand} is the entry point (main and execute); the subcommands and their shared
 * option mixins are in {@code commands}, the clients of a running fleet in {@code client}, and what the console shows
 * (progress, output format, a job's outcome, exit codes) in {@code console}. Imports run down that list.
 */
package dev.cherryq.cli;
