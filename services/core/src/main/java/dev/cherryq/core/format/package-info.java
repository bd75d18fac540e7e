/**
 * Tensor file formats: safetensors (single and sharded, F32/F16/BF16, memory-mapped reads, aligned writes), GGUF
 * writes for llama.cpp (F32/F16/Q8_0/Q4_0, {@code GgufWriter}, {@code GgmlType}), and the
 * dtype conversions that keep bf16 and f16 away from DJL. llama2.c checkpoints are read in {@code model}
 * ({@code Llama2cCheckpoint}).
 */
package dev.cherryq.core.format;
