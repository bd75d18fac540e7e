/**
 * Tensor file formats: safetensors (single and sharded, F32/F16/BF16, memory-mapped reads, aligned writes),
 * llama2.c checkpoints, and the dtype conversions that keep bf16 and f16 away from DJL.
 */
package dev.cherryq.core.format;
