package dev.cherryq.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.qat.MemoryEstimate;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.train.LlamaInitializer;
import dev.cherryq.launcher.EmbeddedFleet;
import dev.cherryq.launcher.WorkerProcess;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Block-wise training at a size where it matters (issue 14's benchmarks): a random-initialized LLaMA model at least
 * 12 blocks deep and 50M parameters, written with the project's checkpoint writer; the end-to-end trainer's peak
 * resident set on it and {@link MemoryEstimate}'s need; the same job trained block-wise by two trainer worker
 * processes whose memory budget ({@code CHERRYQ_MEMORY_BUDGET}) is below the end-to-end need and above a block
 * task's, with each worker's peak, tasks and the job's mean NLL; and block throughput with one trainer worker against
 * two, from the job events' timestamps. Every worker is a process of its own with 1 PyTorch thread.
 */
final class BlockwiseBench {

    private BlockwiseBench() {}

    /**
     * The random model's shape and the job's sizes.
     *
     * @param hidden hidden size d; the heads are 64 wide (32 for tiny), every head its own key and value
     * @param intermediate MLP width I, a multiple of the quantization group (32)
     */
    record Sizes(int hidden, int intermediate, int layers, int headDim, int seqLen, int steps, int segmentSteps,
            int batchSize, int calibSamples, int calibShards, int evalWindowsPerShard, int evalChars) {
        /** d 640, I 1728, 12 blocks: 60.8M parameters with the demo tokenizer's 1,024 tokens. */
        static final Sizes FULL = new Sizes(640, 1728, 12, 64, 128, 16, 8, 2, 4, 2, 16, 20_000);
        static final Sizes TINY = new Sizes(64, 192, 3, 32, 32, 4, 2, 2, 4, 2, 8, 3_000);

        /** The job on {@code model}: CherryQ as the other sections run it, end-to-end, at these sizes. */
        FleetBench.Job job(Path model, Path training, Path heldOut) {
            return new FleetBench.Job(model, training, training, heldOut, calibSamples, calibShards, steps,
                    segmentSteps, seqLen, batchSize, evalWindowsPerShard);
        }

        LlamaConfig config(int vocabSize) {
            int heads = hidden / headDim;
            return new LlamaConfig(hidden, intermediate, layers, heads, heads, headDim, vocabSize, seqLen, 1e-5,
                    10000.0, false, 1, 2);
        }
    }

    /**
     * The block phase of one block-wise job, from its trainer progress events: the blocks trained, the event that
     * sent their tasks (the last capture shard's: it emits them with its progress) and the last block's event.
     */
    record BlockPhase(int blocks, long sentAtMs, long lastBlockAtMs, double cpuSeconds) {
        double seconds() {
            return (lastBlockAtMs - sentAtMs) / 1e3;
        }

        double blocksPerSecond() {
            return blocks / seconds();
        }

        /** Cores the block tasks got on average over the phase: their CPU time over its wall time. */
        double cores() {
            return cpuSeconds / seconds();
        }

        /** Blocks per second of CPU the block tasks got: what a worker does with a core, whatever it was given. */
        double blocksPerCpuSecond() {
            return blocks / cpuSeconds;
        }
    }

    /**
     * The block phase of a job of {@code layers} blocks. Trainer progress events report one task each: capture
     * shards 0..S-1, then blocks S..S+layers-1, then the assembly (the event's total is S + layers + 1); a task
     * redelivered after its output was stored reports again, so each index counts at its first event.
     */
    static BlockPhase blockPhase(List<JobEvent> events, int layers) {
        Map<Integer, Long> firstEvent = new LinkedHashMap<>(); // task index -> its first progress event
        int total = 0;
        for (JobEvent event : events) {
            if (event.getStage() == Stage.STAGE_TRAINER && event.getState() == JobState.JOB_STATE_TRAINING
                    && event.getProgress().getCompletedCount() == 1) {
                firstEvent.putIfAbsent(event.getProgress().getCompleted(0), event.getAtUnixMs());
                total = Math.max(total, event.getProgress().getTotal());
            }
        }
        int captures = total - layers - 1;
        if (captures < 1) {
            throw new IllegalStateException("no block-wise trainer events for " + layers + " blocks (total " + total
                    + ")");
        }
        long sent = 0;
        for (int shard = 0; shard < captures; shard++) {
            sent = Math.max(sent, require(firstEvent, shard, "capture shard"));
        }
        long last = 0;
        for (int block = 0; block < layers; block++) {
            last = Math.max(last, require(firstEvent, captures + block, "block"));
        }
        // the block tasks' CPU time: a task's task event comes just before its progress event (one batch from its
        // worker), so each trainer task event belongs to the next trainer progress event; a block counts once
        double cpuSeconds = 0;
        JobEvent pending = null;
        java.util.Set<Integer> counted = new java.util.HashSet<>();
        for (JobEvent event : events) {
            if (event.getStage() == Stage.STAGE_TRAINER && event.hasTask()) {
                pending = event;
            } else if (pending != null && event.getStage() == Stage.STAGE_TRAINER
                    && event.getState() == JobState.JOB_STATE_TRAINING && event.getProgress().getCompletedCount() == 1) {
                int index = event.getProgress().getCompleted(0);
                if (index >= captures && index < captures + layers && counted.add(index)) {
                    cpuSeconds += Math.max(0, pending.getTask().getCpuMs()) / 1e3;
                }
                pending = null;
            }
        }
        return new BlockPhase(layers, sent, last, cpuSeconds);
    }

    private static long require(Map<Integer, Long> firstEvent, int index, String what) {
        Long at = firstEvent.get(index);
        if (at == null) {
            throw new IllegalStateException("no progress event of " + what + " task " + index);
        }
        return at;
    }

    /**
     * One block-wise trainer worker: what the report's {@code trainer_workers} says of it (tasks, seconds in them,
     * its peak resident set at the end of a task) and its process's peak resident set when the job ended (VmHWM,
     * which also covers the assembly).
     */
    record TrainerWorker(String name, int captures, int blocks, double taskSeconds, double taskPeakMib,
            double processPeakMib) {}

    /** The trainer workers of a block-wise job, by process, from its report and the processes' peaks. */
    static List<TrainerWorker> trainerWorkers(FleetBench.ProcessRun run, Map<Long, String> namesByPid) {
        List<TrainerWorker> workers = new ArrayList<>();
        JsonNode records = run.report().path("results").get(0).path("trainer_workers");
        records.fields().forEachRemaining(entry -> {
            String name = namesByPid.getOrDefault(pidOf(entry.getKey()), entry.getKey());
            JsonNode record = entry.getValue();
            workers.add(new TrainerWorker(name, record.path("captures").asInt(), record.path("blocks").asInt(),
                    record.path("seconds").asDouble(), record.path("peak_rss_mib").asDouble(),
                    run.peakRssMibByWorker().getOrDefault(name, Double.NaN)));
        });
        return workers;
    }

    private static final Pattern PID = Pattern.compile("(\\d+)/");

    /** The pid in a worker's name ("trainer 1234/host"), or -1. */
    static long pidOf(String worker) {
        Matcher matcher = PID.matcher(worker);
        return matcher.find() ? Long.parseLong(matcher.group(1)) : -1;
    }

    /** One invocation's measurements; the load averages are /proc/loadavg's first three, before and after. */
    record Result(String loadBefore, String loadAfter, FleetBench.Job job, LlamaConfig config, long parameters,
            double endToEndNeedMib, double blockNeedMib, int budgetMib,
            double endToEndPeakMib, double endToEndNll, double endToEndSeconds, List<TrainerWorker> twoWorkers,
            double blockwiseNll, double oneWorkerNll, double blockwiseSeconds, BlockPhase oneWorker,
            BlockPhase twoWorkerPhase) {

        /** End-to-end training's segments, and block-wise training's capture shards: as many. */
        int segments() {
            return (job.steps() + job.segmentSteps() - 1) / job.segmentSteps();
        }

        double speedup() {
            return twoWorkerPhase.blocksPerSecond() / oneWorker.blocksPerSecond();
        }

        /** Whether every block-wise worker's process peak stayed under the end-to-end trainer's. */
        boolean underEndToEndPeak() {
            return !twoWorkers.isEmpty() && twoWorkers.stream().allMatch(worker -> worker.processPeakMib()
                    < endToEndPeakMib);
        }
    }

    /** The random model (LlamaInitializer's weights, bf16 like the demo's) with the tokenizer, in {@code folder}. */
    static Path randomModel(Path folder, Sizes sizes, Path tokenizer, int vocabSize) {
        LlamaConfig config = sizes.config(vocabSize);
        InMemoryTensors weights = LlamaInitializer.initialize(config, 14);
        List<TensorData> tensors = new ArrayList<>();
        for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
            tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(), weights.readFloats(tensor.name())));
        }
        HfModelWriter.write(folder, config, null, tensors, Map.of("cherryq.trained_by", "cherryq bench (random)"),
                Long.MAX_VALUE);
        HfModelWriter.copyTokenizer(tokenizer, folder);
        return folder;
    }

    /**
     * The job end-to-end on one trainer worker (its peak), then block-wise on the same fleet (one worker's block
     * throughput); then block-wise on a fresh fleet of two trainer workers with the budget.
     */
    static Result measure(FleetBench.Job endToEnd, LlamaConfig config, Path scratch, PrintWriter console)
            throws Exception {
        String loadBefore = loadAverage();
        FleetBench.Job blockwise = endToEnd.withTrainingMode(TrainingMode.BLOCKWISE);
        QuantizationRecipe recipe = blockwise.recipe();
        long windows = (long) recipe.training().steps() * recipe.training().gradientAccumulation()
                * recipe.training().batchSize();
        double endToEndNeed = MemoryEstimate.endToEndTask(config, recipe.training().batchSize(), endToEnd.seqLen(),
                endToEnd.recipe().training().loss() == TrainingLoss.DISTILLATION) / 1048576.0;
        double blockNeed = MemoryEstimate.blockTask(config, windows, recipe.training().validationWindows(),
                endToEnd.seqLen(), recipe.training().batchSize(), false) / 1048576.0;
        int budget = (int) Math.round((endToEndNeed + blockNeed) / 2); // midway: a block task fits, the whole model not
        FleetBench.ProcessRun endToEndRun;
        FleetBench.ProcessRun oneWorker;
        console.println("  blockwise: end-to-end, then block-wise, on 1 trainer worker");
        console.flush();
        try (EmbeddedFleet fleet = FleetBench.processFleet(scratch.resolve("blockwise-1"), endToEnd.fleetJob(),
                FleetBench.workerCounts(1, 1, 1), Map.of())) {
            endToEndRun = FleetBench.measure(fleet, endToEnd);
            oneWorker = FleetBench.measure(fleet, blockwise);
        }
        console.printf("  blockwise: block-wise on 2 trainer workers, budget %d MiB%n", budget);
        console.flush();
        FleetBench.ProcessRun twoWorkers;
        Map<Long, String> namesByPid = new LinkedHashMap<>();
        try (EmbeddedFleet fleet = FleetBench.processFleet(scratch.resolve("blockwise-2"), blockwise.fleetJob(),
                FleetBench.workerCounts(1, 2, 1), Map.of("CHERRYQ_MEMORY_BUDGET", Integer.toString(budget)))) {
            for (WorkerProcess worker : fleet.workers()) {
                namesByPid.put(worker.pid(), worker.name());
            }
            twoWorkers = FleetBench.measure(fleet, blockwise);
        }
        return new Result(loadBefore, loadAverage(), endToEnd, config, config.parameterCount(), endToEndNeed,
                blockNeed, budget,
                endToEndRun.peakRssMibByWorker().getOrDefault("trainer-1", Double.NaN), endToEndRun.meanNll(),
                endToEndRun.secondsByState().getOrDefault("training", Double.NaN),
                trainerWorkers(twoWorkers, namesByPid), twoWorkers.meanNll(), oneWorker.meanNll(),
                twoWorkers.secondsByState().getOrDefault("training", Double.NaN),
                blockPhase(oneWorker.events(), config.numberOfLayers()),
                blockPhase(twoWorkers.events(), config.numberOfLayers()));
    }

    /** The 1, 5 and 15-minute load averages (Linux), "unknown" elsewhere: other work shares the cores. */
    static String loadAverage() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return fields[0] + " " + fields[1] + " " + fields[2];
        } catch (IOException e) {
            return "unknown";
        }
    }
}
