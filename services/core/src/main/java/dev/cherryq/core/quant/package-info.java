/**
 * Group-wise weight quantization: the CherryQ paper's symmetric "full" grid and min-max asymmetric grids,
 * bit-packing of codes, the round-to-nearest (RTN) baseline over a whole model, the packed folder
 * ({@code PackedModel}) and its GPTQ v1 layout export ({@code GptqExport}).
 */
package dev.cherryq.core.quant;
