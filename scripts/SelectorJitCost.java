import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.scoring.HeterogeneityScore;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.GroupAwareScores;
import dev.cherryq.core.selection.SelectionCriterion;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What the selector's own compute costs under a JVM option: the default recipe's group-aware scores, its per-row
 * selection of 1/256 of the weights and the heterogeneity score, on one linear weight of ROWS x COLUMNS (4096 x 4096
 * by default: a LLaMA-2-7B attention projection), timed REPEATS times after as many warm-up rounds; prints the median.
 * Run it once with {@code -XX:TieredStopAtLevel=1} (the light stages' option, WorkerProcess.LIGHT_STAGE_JVM_OPTION)
 * and once without, and compare (docs/BENCHMARKS.md, Findings 5):
 *   CP=services/core/target/classes
 *   java -Xmx4g -cp $CP scripts/SelectorJitCost.java 4096 4096 5
 *   java -Xmx4g -XX:TieredStopAtLevel=1 -cp $CP scripts/SelectorJitCost.java 4096 4096 5
 */
public class SelectorJitCost {
    public static void main(String[] args) {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        int columns = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
        int repeats = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        SplittableRandom random = new SplittableRandom(7);
        float[] impacts = new float[rows * columns];
        float[] weights = new float[rows * columns];
        for (int i = 0; i < impacts.length; i++) {
            impacts[i] = (float) Math.abs(random.nextGaussian() * 1e-6); // mean squared gradients: positive, tiny
            weights[i] = (float) (random.nextGaussian() * 0.02);
        }
        QuantSpec spec = new QuantSpec(3, 128, QuantScheme.SYM_FULL);
        double[] seconds = new double[repeats];
        long checksum = 0;
        for (int round = -repeats; round < repeats; round++) { // the first `repeats` rounds warm up
            long start = System.nanoTime();
            float[] scores = GroupAwareScores.of(impacts, weights, rows, columns, spec);
            var cherries = CherrySelector.select(SelectionCriterion.GROUP_AWARE, 1.0 / 256, Map.of("w", scores),
                    Map.of("w", new long[] {rows, columns}), 0);
            double heterogeneity = HeterogeneityScore.of(scores, false);
            checksum += cherries.hashCode() + Double.hashCode(heterogeneity);
            if (round >= 0) {
                seconds[round] = (System.nanoTime() - start) / 1e9;
            }
        }
        Arrays.sort(seconds);
        System.out.printf("%d x %d, %d timed rounds: median %.3f s (min %.3f, max %.3f) [%d]%n", rows, columns, repeats,
                seconds[repeats / 2], seconds[0], seconds[repeats - 1], checksum & 1);
    }
}
