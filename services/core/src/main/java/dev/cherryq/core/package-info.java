/**
 * CherryQ core: the pure computation every stage builds on. Checkpoint formats, tokenizers, the LLaMA
 * runtime on DJL PyTorch, group-wise quantizers and perplexity. Nothing here imports Vert.x, Kafka or a
 * storage client; stages are plain synchronous APIs.
 */
package dev.cherryq.core;
