package dev.cherryq.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.job.Folders;
import dev.cherryq.launcher.DemoInputs;
import dev.cherryq.launcher.DemoJob;
import dev.cherryq.launcher.FleetJob;
import dev.cherryq.launcher.RunReport;
import dev.cherryq.launcher.local.LocalJob;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fleet's overhead on the main command's own job (issue "Workers that run for weeks", part 7): the jobs of
 * {@code cherryq run} with its defaults (CherryQ with the fp and rtn rows, GPTQ and QAT as further jobs, on the
 * embedded fleet, as the command runs them but for its console) against
 * the same rows computed one after another in this process through {@link LocalJob} and the pipeline's evaluation,
 * on the same recipe, texts and windows. Both sides are timed from their first step to their last row.
 */
final class MainJobBench {

    /** Wall seconds of one side and its rows' mean NLL, by row name (fp, rtn, and the methods). */
    record Side(double seconds, Map<String, Double> meanNll) {}

    private MainJobBench() {}

    /** {@code cherryq run} with its defaults ({@link DemoJob#fleetJobs}), its fleet under {@code scratch}. */
    static Side embedded(Path scratch) throws Exception {
        Path out = scratch.resolve("main-run");
        List<FleetJob> jobs = DemoJob.fleetJobs(DemoInputs.resolve(null, null, null));
        long started = System.nanoTime();
        JsonNode report = RunReport.combine(FleetBench.onEmbeddedFleet(jobs, out));
        double seconds = (System.nanoTime() - started) / 1e9;
        Map<String, Double> rows = new LinkedHashMap<>();
        for (JsonNode row : report.path("results")) {
            rows.put(row.path("variant").asText(row.path("method").asText()), row.path("mean_nll").asDouble());
        }
        Folders.deleteRecursively(out);
        return new Side(seconds, rows);
    }

    /** The same rows in this process: fp, rtn, then each method's job, every one evaluated on every window. */
    static Side inProcess(Path scratch) throws Exception {
        DemoInputs inputs = DemoInputs.resolve(null, null, null);
        List<FleetJob> fleetJobs = DemoJob.fleetJobs(inputs);
        QuantizationRecipe recipe = fleetJobs.get(0).recipe();
        Path out = scratch.resolve("main-in-process");
        PrintWriter quiet = new PrintWriter(Writer.nullWriter());
        long started = System.nanoTime();
        int[] evalIds;
        int length;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(inputs.model())) {
            recipe = recipe.withSequenceLength(recipe.sequenceLength(checkpoint.config()));
            length = recipe.sequenceLength();
            evalIds = EvalCorpus.tokenizeText(inputs.heldOut(), checkpoint.tokenizer(null),
                    EvalCorpus.DocumentJoin.GPTQ);
        }
        Map<String, Double> rows = new LinkedHashMap<>();
        rows.put("fp", evaluate(inputs.model(), evalIds, length));
        Map<String, QuantizationRecipe> jobs = new LinkedHashMap<>();
        jobs.put("rtn", recipe.withMethod(QuantMethod.RTN));
        for (FleetJob job : fleetJobs) {
            QuantMethod method = job.recipe().method();
            jobs.put(method.wireName(), recipe.withMethod(method));
        }
        for (Map.Entry<String, QuantizationRecipe> job : jobs.entrySet()) {
            Path folder = out.resolve(job.getKey());
            new LocalJob(job.getValue().validate(), inputs.model(), null, inputs.training(), inputs.training(), 0,
                    folder).run(quiet);
            rows.put(job.getKey(), evaluate(folder, evalIds, length));
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Folders.deleteRecursively(out);
        return new Side(seconds, rows);
    }

    private static double evaluate(Path model, int[] ids, int length) {
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            return FleetBench.meanNll(checkpoint, ids, length);
        }
    }
}
