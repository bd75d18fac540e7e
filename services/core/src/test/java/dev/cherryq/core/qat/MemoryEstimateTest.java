package dev.cherryq.core.qat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.model.LlamaConfig;
import org.junit.jupiter.api.Test;

/**
 * {@link MemoryEstimate} against arithmetic worked by hand on a tiny model: hidden 8, intermediate 16, 2 blocks of 2
 * heads of 4, vocabulary 10, untied head. Per block: q, k, v, o 8 x 8 = 64 each, gate and up 16 x 8 = 128 each, down
 * 8 x 16 = 128 (640 linear) and two norms of 8 (656 in all); the model: 2 x 656 + embeddings 80 + head 80 + final
 * norm 8 = 1,480 parameters, 1,280 of them linear. Per token a block's graph holds 16 x 8 + 6 x 16 + 3 x 2 x L values.
 */
class MemoryEstimateTest {

    private static final LlamaConfig TINY = new LlamaConfig(8, 16, 2, 2, 2, 4, 10, 64, 1e-5, 10000.0, false, 1, 2);
    private static final long BASE = MemoryEstimate.BASE_BYTES;

    @Test
    void shouldCountTheModelsParametersAsWorkedByHand() {
        assertEquals(1_480, TINY.parameterCount());
        assertEquals(1_280, MemoryEstimate.linearParameters(TINY));
        assertEquals(656, MemoryEstimate.blockParameters(TINY));
    }

    @Test
    void shouldHoldTheRunsStateForEveryParameter() {
        // weights, gradients, two moments 16 x 1,480 = 23,680; best copy 4 x 1,480 = 5,920;
        // masks 4 x 1,280 + cherry set 1,280 = 6,400; teacher 5,920
        assertEquals(23_680 + 5_920 + 6_400 + 5_920, MemoryEstimate.endToEndStateBytes(TINY, true));
        assertEquals(23_680 + 5_920 + 6_400, MemoryEstimate.endToEndStateBytes(TINY, false));
    }

    @Test
    void shouldCountValidationWhenItsBatchOutweighsTheTrainingStep() {
        // batch 2 x 4: the step holds the fake-quantized weights 4 x 1,280 = 5,120, the graph 2 x 4 tokens x
        // (128 + 96 + 24) x 4 bytes x 2 blocks = 15,872 and logits, log-probabilities, gradient and the teacher's
        // 4 x 2 x 4 x 10 x 4 = 1,280: 22,272. Validation: 5,120 + 8 x 4 x 248 x 4 x 2 = 63,488 + 2 x 8 x 4 x 10 x 4
        // = 2,560: 71,168, the larger
        assertEquals(5_120 + 15_872 + 1_280, MemoryEstimate.trainingStepBytes(TINY, 2, 4, true));
        assertEquals(5_120 + 63_488 + 2_560, MemoryEstimate.validationBytes(TINY, 4));
        assertEquals(BASE + 41_920 + 71_168, MemoryEstimate.endToEndTask(TINY, 2, 4, true));
        // cross-entropy: no teacher (5,920) and the step's logits 3 x 320 = 960; validation still the larger
        assertEquals(BASE + 36_000 + 71_168, MemoryEstimate.endToEndTask(TINY, 2, 4, false));
    }

    @Test
    void shouldCountTheTrainingStepWhenItsBatchOutweighsValidation() {
        // batch 16 x 4: graph 16 x 4 x 248 x 4 x 2 = 126,976; weights 5,120; logits 4 x 16 x 4 x 10 x 4 = 10,240
        assertEquals(BASE + 41_920 + 5_120 + 126_976 + 10_240, MemoryEstimate.endToEndTask(TINY, 16, 4, true));
    }

    @Test
    void shouldHoldOrStreamABlocksWindows() {
        // block state 7 x 4 x 656 = 18,368; graph of batch 2 x 4 through one block 7,936; windows held: 2 depths x
        // (10 + 3) windows x 4 x 8 x 4 bytes = 3,328; streamed: 2 x max(2, min(8, 3)) = 2 x 3 windows: 768
        assertEquals(BASE + 18_368 + 7_936 + 3_328, MemoryEstimate.blockTask(TINY, 10, 3, 4, 2, false));
        assertEquals(BASE + 18_368 + 7_936 + 768, MemoryEstimate.blockTask(TINY, 10, 3, 4, 2, true));
    }
}
