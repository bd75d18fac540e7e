package dev.cherryq.cli.commands;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The model a command reads and its tokenizer (quantize, report, eval, export). */
final class ModelOptions {

    @Option(names = "--model", required = true, description = "HF model folder (a quantized one too) or llama2.c .bin "
            + "checkpoint")
    Path model;

    @Option(names = "--tokenizer", description = "tokenizer.json or llama2.c tokenizer .bin (default: the one in the "
            + "model folder)")
    Path tokenizer;
}
