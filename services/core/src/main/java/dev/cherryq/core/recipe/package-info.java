/**
 * What a quantization job is, in one place: {@link dev.cherryq.core.recipe.QuantizationRecipe} holds the method,
 * the quantization format, the cherry criterion and fraction, the training settings, the window length and the
 * seed, with their defaults and their validation (problems named by field). The command line, the JSON request and
 * the proto message are translations to and from it. {@link dev.cherryq.core.recipe.CherryqPipeline} runs a recipe's
 * steps (score, select, GPTQ, train, export, evaluate); the one-process commands and the fleet's stage handlers call
 * it.
 */
package dev.cherryq.core.recipe;
