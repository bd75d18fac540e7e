/**
 * GPTQ (Frantar et al., 2023, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers"):
 * per decoder linear layer, the Hessian of the layer's reconstruction error from calibration inputs, and a column
 * sweep that rounds one column at a time and spreads its error over the columns not yet rounded. The result is
 * written back into the model as latent weights whose round-to-nearest under the same spec and cherry mask gives
 * GPTQ's codes, so the project's RTN export and QAT start from GPTQ without knowing about it.
 */
package dev.cherryq.core.gptq;
