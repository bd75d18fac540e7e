package dev.cherryq.core.model;

import ai.djl.ndarray.NDArray;

/**
 * What the forward pass uses in place of a decoder linear weight: the identity for full precision, a fake-quantizer
 * during quantization-aware training.
 */
@FunctionalInterface
public interface LinearWeightTransform {

    LinearWeightTransform IDENTITY = (name, weight) -> weight;

    /**
     * @param name the HF tensor name, e.g. model.layers.0.self_attn.q_proj.weight
     * @param weight (out, in) the parameter, temporarily attached to the current step
     * @return (out, in) the weight the layer computes with
     */
    NDArray apply(String name, NDArray weight);
}
