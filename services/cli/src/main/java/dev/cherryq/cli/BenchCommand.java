package dev.cherryq.cli;

import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import dev.cherryq.launcher.DemoInputs;

/**
 * {@code cherryq bench}: measures, side by side in one run and over several runs, the fp32 matmul ceiling of this
 * machine, each stage's throughput as a fraction of it, the fleet's cost over one process, horizontal scaling of
 * scorers and evaluators, and per-stage memory; writes docs/BENCHMARKS.md with min / median / max.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks: matmul ceiling, stage throughput and MFU, fleet overhead, 1 vs 2 workers, memory.",
                "Writes a markdown report (default docs/BENCHMARKS.md). Run it alone on the machine: it measures time."})
final class BenchCommand implements Callable<Integer> {

    static final Set<String> SECTIONS = Set.of("ceiling", "stages", "fleet", "main", "processes", "scaling");

    @Spec
    CommandSpec spec;

    @Option(names = "--runs", defaultValue = "5", description = "repetitions of every measurement (default: ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--model", description = "the largest model (default: models/sotu-3m)")
    Path largeModel;

    @Option(names = "--small-model", description = "the small model of the fleet job (default: models/demo)")
    Path smallModel;

    @Option(names = "--eval-text", description = "held-out text (default: the demo's)")
    Path evalText;

    @Option(names = "--train-text", description = "training and calibration text (default: the demo's)")
    Path trainText;

    @Option(names = "--sections", split = ",", defaultValue = "ceiling,stages,fleet,main,processes,scaling",
            description = "what to measure (default: ${DEFAULT-VALUE})")
    List<String> sections;

    @Option(names = "--tiny", description = "tiny sizes and short timings: a smoke test of the harness, not a benchmark")
    boolean tiny;

    @Option(names = "--soak-minutes", defaultValue = "0", description = "after the runs, keep a process fleet busy this long and sample RSS (default: ${DEFAULT-VALUE})")
    double soakMinutes;

    @Option(names = "--threads", description = "PyTorch intra-op threads of this JVM (default: every core)")
    Integer threads;

    @Option(names = "--scratch", defaultValue = "out/bench", description = "working folder, emptied first (default: ${DEFAULT-VALUE})")
    Path scratch;

    @Option(names = "--out", defaultValue = "docs/BENCHMARKS.md", description = "report (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        for (String section : sections) {
            if (!SECTIONS.contains(section)) {
                throw new InvalidInputException("--sections: unknown section '" + section + "' (known: " + SECTIONS + ")");
            }
        }
        if (runs < 1) {
            throw new InvalidInputException("--runs must be at least 1");
        }
        if (System.getProperty("ai.djl.pytorch.num_threads") == null || threads != null) {
            // before the engine loads: the ceiling and the stage rates run on the same thread count
            System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads != null ? threads
                    : Runtime.getRuntime().availableProcessors()));
        }
        DjlRuntime.ensureOffline();
        DemoInputs inputs = DemoInputs.resolve(smallModel, evalText, trainText);
        Path small = inputs.model();
        Path large = largeModel != null ? largeModel
                : Path.of(System.getProperty("cherryq.home", ".")).toAbsolutePath().normalize().resolve("models/sotu-3m");
        if (!Files.exists(large)) {
            throw new InvalidInputException(large + ": model not found (--model)");
        }
        Path work = scratch.toAbsolutePath().normalize();
        CherryqCommand.deleteRecursively(work);
        Files.createDirectories(work);
        PrintWriter console = spec.commandLine().getOut();
        BenchStats stats = new BenchStats();
        Sizes sizes = tiny ? Sizes.TINY : Sizes.FULL;
        // the jobs read the head of the texts: a fixed amount of work whatever the texts' length
        Path training = head(inputs.training(), work.resolve("texts/train.txt"), sizes.trainChars);
        Path heldOut = head(inputs.heldOut(), work.resolve("texts/heldout.txt"), sizes.evalChars);
        FleetBench.Job fleetJob = new FleetBench.Job(small, training, training, heldOut,
                sizes.calibSamples, sizes.calibShards, sizes.steps, sizes.segmentSteps, sizes.seqLen, 4,
                sizes.evalWindowsPerShard);
        FleetBench.Job scalingJob = new FleetBench.Job(large, training, training, heldOut,
                sizes.scalingSamples, sizes.scalingShards, 2, 2, sizes.seqLen, 2, sizes.evalWindowsPerShard);
        List<Shape> shapes = shapes(sizes, small, large);
        Map<String, Object> last = new LinkedHashMap<>();
        long started = System.nanoTime();
        for (int run = 1; run <= runs; run++) {
            console.printf("bench run %d/%d%n", run, runs);
            console.flush();
            if (sections.contains("ceiling")) {
                for (Shape shape : shapes) {
                    stats.add("ceiling " + shape.name(), KernelBench.matmulGflops(shape.m, shape.k, shape.n, sizes.matmulSeconds));
                }
            }
            if (sections.contains("stages")) {
                for (Path model : List.of(small, large)) {
                    KernelBench.StageRates rates = KernelBench.stageRates(model, sizes.seqLen, 4, sizes.trainSteps,
                            sizes.scoreSamples);
                    String name = model.getFileName().toString();
                    stats.add("score " + name, rates.scoreTokensPerSecond());
                    stats.add("qat " + name, rates.qatTokensPerSecond());
                    stats.add("fp " + name, rates.fpTrainTokensPerSecond());
                    stats.add("eval " + name, rates.evalTokensPerSecond());
                    stats.add("fakequant " + name, rates.fpTrainTokensPerSecond() / rates.qatTokensPerSecond());
                }
            }
            if (sections.contains("fleet")) {
                boolean inProcessFirst = run % 2 == 1; // alternate the order: neither mode always runs warmer
                for (int i = 0; i < 2; i++) {
                    if ((i == 0) == inProcessFirst) {
                        double[] result = FleetBench.inProcess(fleetJob, work);
                        stats.add("job in-process", result[0]);
                        stats.add("nll in-process", result[1]);
                    } else {
                        double[] result = FleetBench.embedded(fleetJob, work);
                        stats.add("job embedded", result[0]);
                        stats.add("nll embedded", result[1]);
                    }
                }
                stats.add("ratio embedded", stats.all("job embedded").get(run - 1) / stats.all("job in-process").get(run - 1));
                FleetBench.UnitCosts costs = FleetBench.unitCosts(small, work);
                stats.add("kafka rtt ms", costs.kafkaRoundTripMs());
                stats.add("store MiB/s", costs.storeMiBPerSecond());
                stats.add("model load s", costs.modelLoadSeconds());
                stats.add("fleet start s", costs.fleetStartSeconds());
            }
            if (sections.contains("main") && !tiny) {
                boolean inProcessFirst = run % 2 == 1;
                for (int i = 0; i < 2; i++) {
                    if ((i == 0) == inProcessFirst) {
                        MainJobBench.Side side = MainJobBench.inProcess(work);
                        stats.add("main in-process", side.seconds());
                        last.put("main in-process", side);
                    } else {
                        MainJobBench.Side side = MainJobBench.embedded(work);
                        stats.add("main embedded", side.seconds());
                        last.put("main embedded", side);
                    }
                }
                stats.add("ratio main", stats.all("main embedded").get(run - 1) / stats.all("main in-process").get(run - 1));
            }
            if (sections.contains("processes")) {
                FleetBench.ProcessRun one = FleetBench.processes(fleetJob, work, 1, 1, 0, console);
                stats.add("job processes", one.seconds());
                stats.add("nll processes", one.meanNll());
                if (stats.has("job in-process")) {
                    stats.add("ratio processes", one.seconds() / stats.all("job in-process").get(run - 1));
                }
                one.peakRssMibByWorker().forEach((worker, mib) -> stats.add("rss " + worker, mib));
                last.put("processes", one);
            }
            if (sections.contains("scaling")) {
                FleetBench.ProcessRun one = FleetBench.processes(scalingJob, work, 1, 1, 0, console);
                FleetBench.ProcessRun two = FleetBench.processes(scalingJob, work, 2, 2, 0, console);
                for (String state : List.of("scoring", "selecting", "evaluating")) {
                    stats.add("scale1 " + state, one.secondsByState().getOrDefault(state, Double.NaN));
                    stats.add("scale2 " + state, two.secondsByState().getOrDefault(state, Double.NaN));
                }
                stats.add("speedup scoring", one.secondsByState().get("scoring") / two.secondsByState().get("scoring"));
                stats.add("speedup evaluating", one.secondsByState().get("evaluating")
                        / two.secondsByState().get("evaluating"));
                one.peakRssMibByWorker().forEach((worker, mib) -> stats.add("rss large " + worker, mib));
                last.put("scale1", one);
                last.put("scale2", two);
            }
        }
        if (soakMinutes > 0) {
            console.printf("soak: %.0f minutes of back-to-back jobs on one process fleet%n", soakMinutes);
            last.put("soak", FleetBench.processes(fleetJob, work, 1, 1, soakMinutes, console));
        }
        double minutes = (System.nanoTime() - started) / 60e9;
        String report = BenchReport.markdown(stats, last, small, large, shapes, sizes, runs, tiny, minutes, fleetJob,
                scalingJob, commandLine());
        Path target = out.toAbsolutePath().normalize();
        Files.createDirectories(target.getParent());
        Files.writeString(target, report);
        if (last.get("soak") instanceof FleetBench.ProcessRun soak && !soak.soakRssMib().isEmpty()) {
            BenchReport.drawSoak(soak, target.resolveSibling(BenchReport.SOAK_FIGURE));
        }
        console.printf("wrote %s (%d runs, %.1f min)%n", target, runs, minutes);
        CherryqCommand.deleteRecursively(work);
        return 0;
    }

    /** The first {@code chars} characters of a text, cut at a space, written to {@code target}. */
    private static Path head(Path text, Path target, int chars) throws java.io.IOException {
        String whole = Files.readString(text);
        String head = whole.length() <= chars ? whole : whole.substring(0, Math.max(whole.lastIndexOf(' ', chars), 1));
        Files.createDirectories(target.getParent());
        return Files.writeString(target, head);
    }

    private String commandLine() {
        return "./cherryq bench" + (runs != 5 ? " --runs " + runs : "") + (tiny ? " --tiny" : "")
                + (threads != null ? " --threads " + threads : "")
                + (soakMinutes > 0 ? String.format(Locale.ROOT, " --soak-minutes %.0f", soakMinutes) : "")
                + (sections.size() != SECTIONS.size() ? " --sections " + String.join(",", sections) : "");
    }

    /** A matmul shape of the ceiling table; its measurements are filed under "ceiling " + name. */
    record Shape(String name, int m, int k, int n) {
        String dimensions() {
            return m + " x " + k + " x " + n;
        }
    }

    /** A large square-ish product (the ceiling), then each model's MLP at the benchmark's batch (4 x seq). */
    private List<Shape> shapes(Sizes sizes, Path small, Path large) throws Exception {
        int tokens = 4 * sizes.seqLen;
        LlamaConfig smallConfig;
        LlamaConfig largeConfig;
        try (LlamaCheckpoint a = LlamaCheckpoint.open(small); LlamaCheckpoint b = LlamaCheckpoint.open(large)) {
            smallConfig = a.config();
            largeConfig = b.config();
        }
        return List.of(new Shape("large", tiny ? 256 : 512, tiny ? 512 : 2048, tiny ? 512 : 2048),
                new Shape(small.getFileName() + " MLP", tokens, smallConfig.hiddenSize(), smallConfig.intermediateSize()),
                new Shape(large.getFileName() + " MLP", tokens, largeConfig.hiddenSize(), largeConfig.intermediateSize()));
    }

    /** Workload sizes: the benchmark's, and the smoke test's. */
    record Sizes(int seqLen, int trainSteps, int scoreSamples, int calibSamples, int calibShards, int steps,
            int segmentSteps, int evalWindowsPerShard, int scalingSamples, int scalingShards, double matmulSeconds,
            int trainChars, int evalChars) {
        static final Sizes FULL = new Sizes(256, 8, 8, 16, 4, 20, 10, 16, 32, 8, 2.0, 400_000, 80_000);
        static final Sizes TINY = new Sizes(32, 3, 3, 4, 2, 4, 2, 8, 4, 2, 0.2, 20_000, 3_000);
    }
}
