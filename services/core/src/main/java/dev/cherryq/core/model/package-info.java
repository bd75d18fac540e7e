/**
 * LLaMA-style decoders: typed configuration with the checkpoint's family (LLaMA-2, Llama-3, Mistral, Qwen2, Qwen3;
 * {@link dev.cherryq.core.model.ModelFamily}), checkpoint loading (Hugging Face folders and llama2.c files), HF
 * folder writing (also as the dense {@code hf-dense} export, {@code HfDenseExport}), the GGUF export in each family's
 * llama.cpp architecture ({@code LlamaGgufExport}, {@code GgufArchitecture}), and the forward/backward pass on DJL
 * PyTorch.
 */
package dev.cherryq.core.model;
