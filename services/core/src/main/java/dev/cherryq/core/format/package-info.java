/**
 * Tensor files and tensors: safetensors read (single and sharded, memory-mapped, header checked before allocating)
 * and written (aligned, one tensor at a time), GGUF written for llama.cpp ({@code GgufWriter}, {@code GgmlType}:
 * F32, F16, Q8_0, Q4_0) and described for inspect ({@code GgufFile}: metadata, tensor types and sizes), the dtypes ({@code DType}) and their conversions that keep bf16 and f16 away from DJL
 * ({@code HalfPrecision}), and tensors as the rest of core reads them ({@code TensorSource}, {@code InMemoryTensors},
 * {@code TensorInfo}) and writes them ({@code TensorData}).
 */
package dev.cherryq.core.format;
