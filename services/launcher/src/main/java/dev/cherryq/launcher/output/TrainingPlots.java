package dev.cherryq.launcher.output;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The training-loss curve of a run: raw per-step loss and its moving average. */
public final class TrainingPlots {

    private TrainingPlots() {}

    public static void lossCurve(List<Double> losses, String title, Path png) throws IOException {
        double[] steps = new double[losses.size()];
        double[] values = new double[losses.size()];
        for (int i = 0; i < values.length; i++) {
            steps[i] = i + 1;
            values[i] = losses.get(i);
        }
        int window = Math.max(1, Math.min(50, values.length / 20));
        new LinePlot(title, "step", "training loss (nats)")
                .series("per step", steps, values, new Color(160, 190, 230), 1f)
                .series("moving average (" + window + " steps)", steps, LinePlot.movingAverage(values, window),
                        new Color(31, 119, 180), 2.5f)
                .write(png);
    }

    /** Writes the plot, or warns on stderr: a missing picture never fails the job. */
    public static void lossCurveOrWarn(List<Double> losses, String title, Path png) {
        try {
            lossCurve(losses, title, png);
        } catch (IOException | RuntimeException | Error e) {
            System.err.println("cherryq: warning: could not draw " + png + " (" + e + "); the run itself is complete");
        }
    }
}
