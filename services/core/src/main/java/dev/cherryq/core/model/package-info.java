/**
 * LLaMA-style decoders: typed configuration with the checkpoint's family (LLaMA-2, Llama-3, Mistral, Qwen2, Qwen3;
 * {@link dev.cherryq.core.model.ModelFamily}), checkpoint loading (Hugging Face folders and llama2.c files), HF
 * folder writing, the GGUF export, and the forward/backward pass on DJL PyTorch.
 */
package dev.cherryq.core.model;
