package dev.cherryq.core.qat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DistillationTest {

    static {
        TestFixtures.sharedDir(); // loads the fixtures class: offline DJL before the engine starts
    }

    /** Log-softmax of random logits, row by row, in double precision. */
    private static double[][] logSoftmax(Random random, int rows, int vocab) {
        double[][] out = new double[rows][vocab];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                out[r][v] = 3 * random.nextGaussian();
                max = Math.max(max, out[r][v]);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(out[r][v] - max);
            }
            double log = max + Math.log(sum);
            for (int v = 0; v < vocab; v++) {
                out[r][v] -= log;
            }
        }
        return out;
    }

    private static float[] flat(double[][] rows) {
        float[] values = new float[rows.length * rows[0].length];
        for (int r = 0; r < rows.length; r++) {
            for (int v = 0; v < rows[0].length; v++) {
                values[r * rows[0].length + v] = (float) rows[r][v];
            }
        }
        return values;
    }

    @Test
    void shouldEqualTheKlDivergenceWrittenOut() {
        Random random = new Random(4);
        int batch = 2;
        int positions = 3;
        int vocab = 11;
        double[][] teacher = logSoftmax(random, batch * positions, vocab);
        double[][] student = logSoftmax(random, batch * positions, vocab);
        double expected = 0; // mean over positions of sum_v p_T (log p_T - log p_S)
        for (int r = 0; r < teacher.length; r++) {
            for (int v = 0; v < vocab; v++) {
                expected += Math.exp(teacher[r][v]) * (teacher[r][v] - student[r][v]);
            }
        }
        expected /= teacher.length;
        try (NDManager manager = DjlRuntime.newManager()) {
            Shape shape = new Shape(batch, positions, vocab);
            NDArray kl = Distillation.klDivergence(manager.create(flat(student), shape),
                    manager.create(flat(teacher), shape));
            assertEquals(expected, kl.getFloat(), 1e-5 * expected);
            NDArray self = Distillation.klDivergence(manager.create(flat(teacher), shape),
                    manager.create(flat(teacher), shape));
            assertEquals(0, self.getFloat(), 1e-6, "a distribution is at KL 0 from itself");
        }
    }

    @Test
    void shouldDistillAFineGridToNearZeroAndPullACoarseOneTowardsTheTeacher() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        int[] tokens = new Random(6).ints(2000, 0, config.vocabSize()).toArray();
        QatSettings settings = new QatSettings(30, 2, 16, 1, 3e-3f, 0.05, 0.25, 0f, 1f, 3, 0);
        try (LlamaModel teacher = fresh(config); LlamaModel fine = fresh(config); LlamaModel coarse = fresh(config)) {
            List<Float> fineLosses = QatTrainer.train(fine, teacher, null, new QuantSpec(8, 8, QuantScheme.SYM_FULL),
                    CherrySet.empty(), tokens, null, settings, null, 30, Progress.NONE).losses();
            // 8 bits in groups of 8: the student is nearly the teacher, so the divergence starts near 0
            assertTrue(fineLosses.get(0) >= 0 && fineLosses.get(0) < 1e-3, "8-bit KL " + fineLosses.get(0));
            List<Float> coarseLosses = QatTrainer.train(coarse, teacher, null,
                    new QuantSpec(2, 8, QuantScheme.SYM_FULL), CherrySet.empty(), tokens, null, settings, null, 30,
                    Progress.NONE).losses();
            assertTrue(coarseLosses.get(0) > 10 * fineLosses.get(0), "2 bits diverge more: " + coarseLosses.get(0));
            double first = (coarseLosses.get(0) + coarseLosses.get(1) + coarseLosses.get(2)) / 3;
            double last = (coarseLosses.get(27) + coarseLosses.get(28) + coarseLosses.get(29)) / 3;
            assertTrue(last < 0.8 * first, "training moves the student towards the teacher: " + first + " -> " + last);
        }
    }

    private static LlamaModel fresh(LlamaConfig config) {
        return LlamaModel.fromTensors(config, RandomLlama.tensors(config, RandomLlama.weights(config, 6)));
    }
}
