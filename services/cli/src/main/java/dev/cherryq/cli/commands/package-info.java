/**
 * The subcommands of {@code cherryq}, each options -> a recipe or settings -> one call into core, the launcher, the
 * bench module or a fleet client, and the picocli mixins that write a shared option block once: {@link
 * dev.cherryq.cli.commands.RecipeOptions} (the recipe's options, with its defaults), {@link
 * dev.cherryq.cli.commands.ModelOptions} (a model and its tokenizer) and {@link dev.cherryq.cli.commands.DemoTextOptions}
 * (the main job's texts). No command drives another.
 */
package dev.cherryq.cli.commands;
