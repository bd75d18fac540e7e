/**
 * What a user sees of a command besides its own output: the job progress line ({@link
 * dev.cherryq.cli.console.JobProgressView}), the text-or-JSON choice ({@link dev.cherryq.cli.console.OutputFormat}),
 * how a followed job's end is printed ({@link dev.cherryq.cli.console.JobOutcome}) and the exit codes. It imports
 * nothing else of the command line.
 */
package dev.cherryq.cli.console;
