/**
 * The subcommands of {@code cherryq}, each options -> a recipe or settings -> one call into core, the launcher, the
 * bench module or a fleet client, and the picocli mixins that write a shared option block once: {@link
 * dev.cherryq.cli.commands.RecipeOptions} (the recipe's options, with its defaults). No command drives another.
 */
package dev.cherryq.cli.commands;
