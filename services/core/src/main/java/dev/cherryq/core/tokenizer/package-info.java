/**
 * Tokenizers: llama2.c's tokenizer.bin, and Hugging Face tokenizer.json BPE in its two common forms
 * (LLaMA-2 SentencePiece-style with byte fallback, and GPT-2 byte-level). All share one BPE merge engine.
 */
package dev.cherryq.core.tokenizer;
