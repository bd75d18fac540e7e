package dev.cherryq.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.launcher.local.LocalJob;
import dev.cherryq.launcher.output.LinePlot;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The fidelity report's memory check: one long CherryQ training, its resident memory every 10 steps and the training
 * stage's peak, against 5 x fp32 parameter bytes + 1.5 GiB, with its figure ({@code memory.png}).
 */
final class MemoryRun {

    private MemoryRun() {}

    /** Runs the job and returns the report's paragraph about its memory. */
    static String report(LocalJob job, long parameters, Path out, PrintWriter console) throws IOException {
        QuantizationRecipe recipe = job.recipe();
        int memorySteps = recipe.training().steps();
        JsonNode record = job.run(console);
        JsonNode rss = record.get("training").get("rss_mib_every_10_steps");
        int firstIndex = Math.min(4, rss.size() - 1);
        double first = rss.get(firstIndex).get("rss_mib").asDouble();
        double middle = rss.get(rss.size() / 2).get("rss_mib").asDouble();
        double last = rss.get(rss.size() - 1).get("rss_mib").asDouble();
        double peak = 0;
        for (JsonNode stage : record.get("stages")) {
            if (stage.get("stage").asText().equals("train") && !stage.get("peak_rss_mib").isNull()) {
                peak = stage.get("peak_rss_mib").asDouble();
            }
        }
        double bound = 5.0 * parameters * 4 / (1024 * 1024) + 1536;
        double[] x = new double[rss.size()];
        double[] y = new double[rss.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = rss.get(i).get("step").asDouble();
            y[i] = rss.get(i).get("rss_mib").asDouble();
        }
        Figures.tryDraw(() -> new LinePlot("Resident memory during " + memorySteps + " CherryQ steps", "step",
                "RSS (MiB)").series("RSS", x, y).write(out.resolve("memory.png")));
        return String.format(Locale.ROOT, "CherryQ %d-bit, %d steps: RSS %.0f MiB at step %d, %.0f MiB at step %d, "
                + "%.0f MiB at step %d (change over the run after step %d: %+.1f%%). Peak RSS of the training stage "
                + "%.0f MiB; the bound 5 x fp32 parameter bytes + 1.5 GiB is %.0f MiB: %s.%n%n![memory](memory.png)%n",
                recipe.bits(), memorySteps, first, rss.get(firstIndex).get("step").asInt(), middle,
                rss.get(rss.size() / 2).get("step").asInt(), last, rss.get(rss.size() - 1).get("step").asInt(),
                rss.get(firstIndex).get("step").asInt(), 100 * (last - first) / first, peak, bound,
                peak <= bound ? "met" : "MISSED");
    }
}
