package dev.cherryq.bench;

import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.fleet.job.Folders;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The benchmark ({@code cherryq bench} is its front end): measures, side by side in one invocation and over several
 * runs, the fp32 matmul ceiling of this machine, each stage's throughput as a fraction of it, the fleet's cost over
 * one process, horizontal scaling of scorers and evaluators, per-stage memory, and block-wise training on a model of
 * 12 blocks and 60M parameters ({@link BlockwiseBench}); writes docs/BENCHMARKS.md with min / median / max
 * ({@link BenchReport}).
 */
public final class Benchmark {

    /** What can be measured, by section name. */
    public static final Set<String> SECTIONS = Set.of("ceiling", "stages", "fleet", "main", "processes", "scaling",
            "blockwise");

    /**
     * One invocation's settings, checked by the caller.
     *
     * @param smallModel the small model of the fleet job
     * @param largeModel the largest model (stage rates, scaling)
     * @param training training and calibration text: the jobs read its head
     * @param heldOut held-out text: the jobs read its head
     * @param tiny tiny sizes and short timings: a smoke test of the harness, not a benchmark
     * @param soakMinutes after the runs, keep a process fleet busy this long and sample RSS (0: no soak)
     * @param scratch working folder, emptied first and removed at the end
     * @param out the report
     * @param command the command that reproduces this invocation, quoted in the report
     */
    public record Settings(int runs, Path smallModel, Path largeModel, Path training, Path heldOut,
            List<String> sections, boolean tiny, double soakMinutes, Path scratch, Path out, String command) {}

    /** A matmul shape of the ceiling table; its measurements are filed under "ceiling " + name. */
    record Shape(String name, int m, int k, int n) {
        String dimensions() {
            return m + " x " + k + " x " + n;
        }
    }

    /** Workload sizes: the benchmark's, and the smoke test's. */
    record Sizes(int seqLen, int trainSteps, int scoreSamples, int calibSamples, int calibShards, int steps,
            int segmentSteps, int evalWindowsPerShard, int scalingSamples, int scalingShards, double matmulSeconds,
            int trainChars, int evalChars) {
        static final Sizes FULL = new Sizes(256, 8, 8, 16, 4, 20, 10, 16, 32, 8, 2.0, 400_000, 80_000);
        static final Sizes TINY = new Sizes(32, 3, 3, 4, 2, 4, 2, 8, 4, 2, 0.2, 20_000, 3_000);
    }

    private final Settings settings;
    private final Sizes sizes;
    private final BenchStats stats = new BenchStats();
    private final LatestRuns latest = new LatestRuns();

    private Benchmark(Settings settings) {
        this.settings = settings;
        this.sizes = settings.tiny() ? Sizes.TINY : Sizes.FULL;
    }

    /** Measures every section {@code runs} times, writes the report (and the soak figure), removes the scratch. */
    public static void run(Settings settings, PrintWriter console) throws Exception {
        new Benchmark(settings).measure(console);
    }

    private void measure(PrintWriter console) throws Exception {
        Path small = settings.smallModel();
        Path large = settings.largeModel();
        List<String> sections = settings.sections();
        Path work = settings.scratch().toAbsolutePath().normalize();
        Folders.deleteRecursively(work);
        Files.createDirectories(work);
        // the jobs read the head of the texts: a fixed amount of work whatever the texts' length
        Path training = head(settings.training(), work.resolve("texts/train.txt"), sizes.trainChars());
        Path heldOut = head(settings.heldOut(), work.resolve("texts/heldout.txt"), sizes.evalChars());
        FleetBench.Job fleetJob = new FleetBench.Job(small, training, training, heldOut,
                sizes.calibSamples(), sizes.calibShards(), sizes.steps(), sizes.segmentSteps(), sizes.seqLen(), 4,
                sizes.evalWindowsPerShard());
        FleetBench.Job scalingJob = new FleetBench.Job(large, training, training, heldOut,
                sizes.scalingSamples(), sizes.scalingShards(), 2, 2, sizes.seqLen(), 2, sizes.evalWindowsPerShard());
        List<Shape> shapes = shapes(small, large);
        BlockwiseBench.Sizes blockwiseSizes = settings.tiny() ? BlockwiseBench.Sizes.TINY : BlockwiseBench.Sizes.FULL;
        FleetBench.Job blockwiseJob = null;
        LlamaConfig blockwiseConfig = null;
        if (sections.contains("blockwise")) {
            // a random model of the section's size, with the small model's tokenizer and vocabulary
            int vocabulary;
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(small)) {
                vocabulary = checkpoint.config().vocabSize();
            }
            Path model = BlockwiseBench.randomModel(work.resolve("models/blockwise-random"), blockwiseSizes,
                    Files.exists(small.resolve("tokenizer.json")) ? small.resolve("tokenizer.json")
                            : small.resolve("tokenizer.bin"), vocabulary);
            blockwiseConfig = blockwiseSizes.config(vocabulary);
            blockwiseJob = blockwiseSizes.job(model, training, head(settings.heldOut(),
                    work.resolve("texts/heldout-blockwise.txt"), blockwiseSizes.evalChars()));
        }
        long started = System.nanoTime();
        for (int run = 1; run <= settings.runs(); run++) {
            console.printf("bench run %d/%d%n", run, settings.runs());
            console.flush();
            if (sections.contains("ceiling")) {
                for (Shape shape : shapes) {
                    stats.add("ceiling " + shape.name(), KernelBench.matmulGflops(shape.m(), shape.k(), shape.n(),
                            sizes.matmulSeconds()));
                }
            }
            if (sections.contains("stages")) {
                stageRates(small, large);
            }
            if (sections.contains("fleet")) {
                fleetOverhead(fleetJob, small, work, run);
            }
            if (sections.contains("main") && !settings.tiny()) {
                mainJob(work, run);
            }
            if (sections.contains("processes")) {
                FleetBench.ProcessRun one = FleetBench.processes(fleetJob, work, 1, 1, 0, console);
                stats.add("job processes", one.seconds());
                stats.add("nll processes", one.meanNll());
                if (stats.has("job in-process")) {
                    stats.add("ratio processes", one.seconds() / stats.all("job in-process").get(run - 1));
                }
                one.peakRssMibByWorker().forEach((worker, mib) -> stats.add("rss " + worker, mib));
                latest.processes(one);
            }
            if (sections.contains("scaling")) {
                scaling(scalingJob, work, console);
            }
            if (blockwiseJob != null) {
                blockwise(blockwiseJob, blockwiseConfig, work, console);
            }
        }
        if (settings.soakMinutes() > 0) {
            console.printf("soak: %.0f minutes of back-to-back jobs on one process fleet%n", settings.soakMinutes());
            latest.soak(FleetBench.processes(fleetJob, work, 1, 1, settings.soakMinutes(), console));
        }
        double minutes = (System.nanoTime() - started) / 60e9;
        String report = BenchReport.markdown(stats, latest, small, large, shapes, sizes, settings.runs(),
                settings.tiny(), minutes, fleetJob, scalingJob, settings.command());
        Path target = settings.out().toAbsolutePath().normalize();
        Files.createDirectories(target.getParent());
        Files.writeString(target, report);
        if (latest.soak() != null && latest.soak().soak().measured()) {
            BenchReport.drawSoak(latest.soak().soak(), target.resolveSibling(BenchReport.SOAK_FIGURE),
                    target.resolveSibling(BenchReport.SOAK_IDLE_FIGURE));
            Files.writeString(target.resolveSibling(BenchReport.SOAK_SAMPLES),
                    BenchReport.soakSamples(latest.soak().soak()));
        }
        console.printf("wrote %s (%d runs, %.1f min)%n", target, settings.runs(), minutes);
        Folders.deleteRecursively(work);
    }

    private void stageRates(Path small, Path large) throws IOException {
        for (Path model : List.of(small, large)) {
            KernelBench.StageRates rates = KernelBench.stageRates(model, sizes.seqLen(), 4, sizes.trainSteps(),
                    sizes.scoreSamples());
            String name = model.getFileName().toString();
            stats.add("score " + name, rates.scoreTokensPerSecond());
            stats.add("qat " + name, rates.qatTokensPerSecond());
            stats.add("fp " + name, rates.fpTrainTokensPerSecond());
            stats.add("eval " + name, rates.evalTokensPerSecond());
            stats.add("fakequant " + name, rates.fpTrainTokensPerSecond() / rates.qatTokensPerSecond());
        }
    }

    /** The same job in this process and on the embedded fleet, in alternating order, and the unit costs. */
    private void fleetOverhead(FleetBench.Job job, Path small, Path work, int run) throws Exception {
        boolean inProcessFirst = run % 2 == 1; // alternate the order: neither mode always runs warmer
        for (int i = 0; i < 2; i++) {
            if ((i == 0) == inProcessFirst) {
                FleetBench.JobTime result = FleetBench.inProcess(job, work);
                stats.add("job in-process", result.seconds());
                stats.add("nll in-process", result.meanNll());
            } else {
                FleetBench.JobTime result = FleetBench.embedded(job, work);
                stats.add("job embedded", result.seconds());
                stats.add("nll embedded", result.meanNll());
            }
        }
        stats.add("ratio embedded", stats.all("job embedded").get(run - 1) / stats.all("job in-process").get(run - 1));
        FleetBench.UnitCosts costs = FleetBench.unitCosts(small, work);
        stats.add("kafka rtt ms", costs.kafkaRoundTripMs());
        stats.add("store MiB/s", costs.storeMiBPerSecond());
        stats.add("model load s", costs.modelLoadSeconds());
        stats.add("fleet start s", costs.fleetStartSeconds());
    }

    /** The main command's job on the embedded fleet and in this process, in alternating order. */
    private void mainJob(Path work, int run) throws Exception {
        boolean inProcessFirst = run % 2 == 1;
        for (int i = 0; i < 2; i++) {
            if ((i == 0) == inProcessFirst) {
                MainJobBench.Side side = MainJobBench.inProcess(work);
                stats.add("main in-process", side.seconds());
                latest.mainInProcess(side);
            } else {
                MainJobBench.Side side = MainJobBench.embedded(work);
                stats.add("main embedded", side.seconds());
                latest.mainEmbedded(side);
            }
        }
        stats.add("ratio main", stats.all("main embedded").get(run - 1) / stats.all("main in-process").get(run - 1));
    }

    /** Scoring and evaluation with one worker process each, then two. */
    private void scaling(FleetBench.Job job, Path work, PrintWriter console) throws Exception {
        FleetBench.ProcessRun one = FleetBench.processes(job, work, 1, 1, 0, console);
        FleetBench.ProcessRun two = FleetBench.processes(job, work, 2, 2, 0, console);
        for (String state : List.of("scoring", "selecting", "evaluating")) {
            stats.add("scale1 " + state, one.secondsByState().getOrDefault(state, Double.NaN));
            stats.add("scale2 " + state, two.secondsByState().getOrDefault(state, Double.NaN));
        }
        stats.add("speedup scoring", one.secondsByState().get("scoring") / two.secondsByState().get("scoring"));
        stats.add("speedup evaluating", one.secondsByState().get("evaluating")
                / two.secondsByState().get("evaluating"));
        one.peakRssMibByWorker().forEach((worker, mib) -> stats.add("rss large " + worker, mib));
        latest.scaling(one, two);
    }

    /** Block-wise training against end-to-end on the random model: memory, the job's result, 1 and 2 trainers. */
    private void blockwise(FleetBench.Job job, LlamaConfig config, Path work, PrintWriter console) throws Exception {
        BlockwiseBench.Result result = BlockwiseBench.measure(job, config, work, console);
        stats.add("blockwise e2e peak", result.endToEndPeakMib());
        stats.add("blockwise worker peak", result.twoWorkers().stream()
                .mapToDouble(BlockwiseBench.TrainerWorker::processPeakMib).max().orElse(Double.NaN));
        stats.add("blockwise nll", result.blockwiseNll());
        stats.add("blockwise blocks/s 1", result.oneWorker().blocksPerSecond());
        stats.add("blockwise blocks/s 2", result.twoWorkerPhase().blocksPerSecond());
        stats.add("blockwise speedup", result.speedup());
        latest.blockwise(result);
    }

    /** The first {@code chars} characters of a text, cut at a space, written to {@code target}. */
    private static Path head(Path text, Path target, int chars) throws IOException {
        String whole = Files.readString(text);
        String head = whole.length() <= chars ? whole : whole.substring(0, Math.max(whole.lastIndexOf(' ', chars), 1));
        Files.createDirectories(target.getParent());
        return Files.writeString(target, head);
    }

    /** A large square-ish product (the ceiling), then each model's MLP at the benchmark's batch (4 x seq). */
    private List<Shape> shapes(Path small, Path large) throws IOException {
        int tokens = 4 * sizes.seqLen();
        LlamaConfig smallConfig;
        LlamaConfig largeConfig;
        try (LlamaCheckpoint a = LlamaCheckpoint.open(small); LlamaCheckpoint b = LlamaCheckpoint.open(large)) {
            smallConfig = a.config();
            largeConfig = b.config();
        }
        boolean tiny = settings.tiny();
        return List.of(new Shape("large", tiny ? 256 : 512, tiny ? 512 : 2048, tiny ? 512 : 2048),
                new Shape(small.getFileName() + " MLP", tokens, smallConfig.hiddenSize(), smallConfig.intermediateSize()),
                new Shape(large.getFileName() + " MLP", tokens, largeConfig.hiddenSize(), largeConfig.intermediateSize()));
    }
}
