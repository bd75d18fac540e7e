/**
 * Group-wise weight quantization: the CherryQ paper's symmetric "full" grid and min-max asymmetric grids,
 * bit-packing of codes, and the round-to-nearest (RTN) baseline over a whole model.
 */
package dev.cherryq.core.quant;
