/**
 * CherryQ's unified mixed-precision quantization-aware training (Cui and Wang, 2024, Sec. 4): fake-quantized
 * normal weights trained through the straight-through estimator, cherries kept in full precision with exact
 * gradients, checkpoints that resume to the same result.
 */
package dev.cherryq.core.qat;
