/** The {@code cherryq} command: thin picocli front ends over services/core. */
package dev.cherryq.cli;
