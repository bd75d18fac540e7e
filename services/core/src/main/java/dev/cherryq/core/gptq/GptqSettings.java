package dev.cherryq.core.gptq;

import dev.cherryq.core.InvalidInputException;

/**
 * GPTQ's own knobs (Frantar et al., 2023, Sec. 4 and the reference implementation's defaults); the quantization format
 * itself is the {@link dev.cherryq.core.quant.QuantSpec}.
 *
 * @param dampening fraction of the Hessian's mean diagonal added to its diagonal before inverting (reference: 0.01)
 * @param blockSize columns per lazy batch: updates inside a block are applied at once, the rest after the block
 *     (reference: 128); the result does not depend on it beyond floating-point rounding
 * @param actOrder sweep the columns in order of decreasing Hessian diagonal ("act-order"); groups stay on the
 *     original contiguous columns
 * @param halfPrecisionScales compute group scales rounded to f16, as the packed export stores them, so that the
 *     latent weights round to GPTQ's codes under the export's RTN rather than the f32 RTN that QAT starts from
 *     (sym-full gives the same codes either way; asym's zero point can move with the scale)
 */
public record GptqSettings(double dampening, int blockSize, boolean actOrder, boolean halfPrecisionScales) {

    public static final double DEFAULT_DAMPENING = 0.01;
    public static final int DEFAULT_BLOCK_SIZE = 128;
    public static final GptqSettings DEFAULTS = new GptqSettings(DEFAULT_DAMPENING, DEFAULT_BLOCK_SIZE, false);

    /** f32 scales, as GroupQuantizer's default and the QAT fake-quantizer compute them. */
    public GptqSettings(double dampening, int blockSize, boolean actOrder) {
        this(dampening, blockSize, actOrder, false);
    }

    public GptqSettings {
        if (!(dampening > 0 && dampening < 1)) {
            throw new InvalidInputException("gptq_dampening: " + dampening
                    + " must be in (0, 1), a fraction of the Hessian's mean diagonal (GPTQ uses 0.01)");
        }
        if (blockSize < 1) {
            throw new InvalidInputException("gptq_block_size: " + blockSize
                    + " must be at least 1 column (GPTQ uses 128)");
        }
    }

    /** The defaults with act-order on or off. */
    public static GptqSettings withActOrder(boolean actOrder) {
        return new GptqSettings(DEFAULT_DAMPENING, DEFAULT_BLOCK_SIZE, actOrder);
    }
}
