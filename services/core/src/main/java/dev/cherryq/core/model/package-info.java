/**
 * The LLaMA model family: typed configuration, checkpoint loading (Hugging Face folders and llama2.c files),
 * HF folder writing, and the forward/backward pass on DJL PyTorch.
 */
package dev.cherryq.core.model;
