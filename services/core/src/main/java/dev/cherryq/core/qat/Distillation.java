package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;

/**
 * Knowledge distillation from the full-precision model (the teacher) into the quantized one (the student): the
 * Kullback-Leibler divergence KL(p_T || p_S) = sum_v p_T(v) (log p_T(v) - log p_S(v)) between their next-token
 * distributions at each position, averaged over positions. Its gradient is the cross-entropy's with the teacher's
 * soft distribution as the target, so the student learns what the full-precision model would predict at every
 * position, not only the one token the text has there.
 */
public final class Distillation {

    private Distillation() {}

    /**
     * @param student (batch, positions, vocab) the student's log-probabilities, in the autograd graph
     * @param teacher (batch, positions, vocab) the teacher's log-probabilities, computed without gradients
     * @return () the mean KL divergence per position, in nats
     */
    public static NDArray klDivergence(NDArray student, NDArray teacher) {
        NDArray teacherProbabilities = teacher.exp(); // (batch, positions, vocab)
        return teacherProbabilities.mul(teacher.sub(student)).sum(new int[] {-1}).mean(); // per position, averaged
    }
}
