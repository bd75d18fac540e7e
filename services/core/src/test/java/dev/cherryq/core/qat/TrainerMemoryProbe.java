package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.InMemoryTensors;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.HfModelWriter;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.train.LlamaInitializer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Where an end-to-end trainer's memory goes, phase by phase: not a test, a measurement tool (docs/SCALING.md,
 * "Where the end-to-end trainer's memory goes"). It runs what a fleet trainer worker runs for an end-to-end job
 * ({@code TrainerHandler}: per segment, load the model, fingerprint its start, load the distillation teacher, train
 * to the segment's end with validation and a checkpoint, and after the last segment export), in this JVM, and per
 * phase prints the peak resident set (VmHWM, reset at each phase's start through /proc/self/clear_refs), the
 * resident set at its end, the Java heap's peak use and commitment (sampled every 10 ms) and the arrays alive in the
 * engine at its end.
 *
 * <p>{@code make FOLDER [hidden intermediate layers]} writes the random model (BlockwiseBench's shape by default:
 * d 640, I 1728, 12 blocks, heads of 64, vocabulary 1,024, bf16); {@code run FOLDER [steps segmentSteps batch
 * length]} measures (16, 8, 2, 128 by default). Run it with the trainer worker's JVM options.
 */
public final class TrainerMemoryProbe {

    private static final MemoryMXBean HEAP = ManagementFactory.getMemoryMXBean();
    private static volatile String phase = "start";
    private static final Map<String, double[]> SAMPLED = new LinkedHashMap<>(); // phase -> max rss, heap used, committed
    private static final List<String> ROWS = new ArrayList<>();
    private static volatile Path watched;

    private TrainerMemoryProbe() {}

    public static void main(String[] args) throws Exception {
        DjlRuntime.ensureOffline();
        Path folder = Path.of(args[1]);
        if (args[0].equals("make")) {
            int hidden = args.length > 2 ? Integer.parseInt(args[2]) : 640;
            int intermediate = args.length > 3 ? Integer.parseInt(args[3]) : 1728;
            int layers = args.length > 4 ? Integer.parseInt(args[4]) : 12;
            LlamaConfig config = new LlamaConfig(hidden, intermediate, layers, hidden / 64, hidden / 64, 64, 1024, 128,
                    1e-5, 10000.0, false, 1, 2);
            InMemoryTensors weights = LlamaInitializer.initialize(config, 14);
            List<TensorData> tensors = new ArrayList<>();
            for (LlamaTensorNames.NamedShape tensor : LlamaTensorNames.expected(config)) {
                tensors.add(TensorData.ofFloats(tensor.name(), DType.BF16, tensor.shape(),
                        weights.readFloats(tensor.name())));
            }
            HfModelWriter.write(folder, config, null, tensors, Map.of(), Long.MAX_VALUE);
            System.out.println("wrote " + folder + ": " + config.parameterCount() + " parameters");
            return;
        }
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 16;
        int segmentSteps = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int batch = args.length > 4 ? Integer.parseInt(args[4]) : 2;
        int length = args.length > 5 ? Integer.parseInt(args[5]) : 128;
        Thread sampler = new Thread(TrainerMemoryProbe::sample, "memory-sampler");
        sampler.setDaemon(true);
        sampler.start();
        Path scratch = Files.createTempDirectory("trainer-memory-probe");
        begin("engine start");
        DjlRuntime.prepareComputeThread();
        LlamaConfig config;
        try (LlamaCheckpoint probe = LlamaCheckpoint.open(folder)) {
            config = probe.config();
        }
        QuantizationRecipe defaults = QuantizationRecipe.DEFAULTS;
        QuantizationRecipe recipe = defaults.withBits(3).withGroupSize(32).withCalibrationSamples(4)
                .withTraining(defaults.training().withSteps(steps).withBatchSize(batch)).withSequenceLength(length)
                .withSeed(0).validate();
        int[] tokens = new int[(steps * batch + recipe.training().validationWindows() + 8) * length];
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(config.vocabSize());
        }
        CherrySet cherries = randomCherries(recipe, config);
        boolean distill = recipe.training().loss() == TrainingLoss.DISTILLATION;
        System.out.printf(Locale.ROOT, "model %,d parameters, %d steps in segments of %d, batch %d x %d, loss %s, "
                + "MALLOC_ARENA_MAX=%s, -Xmx %d MiB%n", config.parameterCount(), steps, segmentSteps, batch, length,
                recipe.training().loss(), System.getenv("MALLOC_ARENA_MAX"), Runtime.getRuntime().maxMemory() >> 20);
        end();
        for (int toStep = segmentSteps; ; toStep = Math.min(steps, toStep + segmentSteps)) {
            String segment = "segment to " + toStep + ": ";
            Path directory = scratch.resolve("segment");
            watched = directory.resolve(QatCheckpoint.FILE + ".partial");
            begin(segment + "model load");
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(folder);
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                end();
                begin(segment + "start (weights fingerprint)");
                CherryqPipeline.Start start = CherryqPipeline.start(model, recipe, null, cherries, toStep > segmentSteps,
                        dev.cherryq.core.Progress.NONE);
                end();
                begin(segment + "teacher load");
                try (LlamaModel teacher = distill ? LlamaModel.load(checkpoint) : null) {
                    end();
                    // as CherryqPipeline.train does
                    CherryqPipeline.Split split = CherryqPipeline.split(recipe, tokens, length);
                    QatTrainer.Validation validation = new QatTrainer.Validation(split.validation(),
                            CherryqPipeline.validationEvery(recipe, 0), 8);
                    String prefix = segment;
                    begin(segment + "set-up, restore or step-0 validation, step " + (toStep - segmentSteps + 1));
                    QatTrainer.train(model, teacher, start.weights(), recipe.quantSpec(), cherries, split.train(),
                            validation, recipe.qatSettings(length, 0), directory, toStep, (done, total, detail) -> {
                                end();
                                begin(prefix + (done < total && done % segmentSteps != 0 ? "step " + (done + 1)
                                        : "validation after step " + done + ", then checkpoint save"));
                            });
                    end();
                }
                if (toStep == steps) {
                    begin("export (packed + dense)");
                    CherryqPipeline.export(model, checkpoint, recipe, cherries, scratch.resolve("model"),
                            dev.cherryq.core.Progress.NONE);
                    end();
                }
            }
            begin(segment + "after closing the models");
            System.gc();
            Thread.sleep(500);
            end();
            if (toStep == steps) {
                break;
            }
        }
        System.out.println();
        System.out.println("| phase | peak RSS (VmHWM) MiB | RSS at end MiB | heap used, peak MiB | heap committed, peak "
                + "MiB | arrays alive at end (count, MiB) |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
        ROWS.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "process peak (VmHWM since the last reset is per phase): see the column's max%n");
    }

    /** The cherry set the recipe selects from random scores: the right count and shape in every linear weight. */
    private static CherrySet randomCherries(QuantizationRecipe recipe, LlamaConfig config) {
        Map<String, float[]> scores = new LinkedHashMap<>();
        SplittableRandom random = new SplittableRandom(3);
        LlamaTensorNames.linearWeightShapes(config).forEach((name, shape) -> {
            float[] values = new float[Math.toIntExact(shape[0] * shape[1])];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextDouble();
            }
            scores.put(name, values);
        });
        return CherryqPipeline.select(recipe, config, scores);
    }

    private static void begin(String name) {
        resetPeak();
        synchronized (SAMPLED) {
            SAMPLED.put(name, new double[3]);
            phase = name;
        }
    }

    private static void end() {
        String name = phase;
        double[] sampled;
        synchronized (SAMPLED) {
            sampled = SAMPLED.get(name).clone();
        }
        long count = 0;
        long bytes = 0;
        try (NDManager probe = DjlRuntime.newManager()) {
            for (NDArray array : probe.getParentManager().getManagedArrays()) {
                count++;
                bytes += array.size() * array.getDataType().getNumOfBytes();
            }
        }
        if (name.endsWith(" (writing)")) { // the part before the checkpoint's file appeared: sampled only
            String before = name.substring(0, name.length() - " (writing)".length());
            double[] earlier;
            synchronized (SAMPLED) {
                earlier = SAMPLED.get(before).clone();
            }
            String row = String.format(Locale.ROOT, "| %s, until the file is opened | - | %.0f (sampled peak) | %.0f "
                    + "| %.0f | - |", before, earlier[0], earlier[1], earlier[2]);
            ROWS.add(row);
            System.out.println(row);
        }
        String row = String.format(Locale.ROOT, "| %s | %.0f | %.0f | %.0f | %.0f | %d, %.0f |", name,
                kilobytes("VmHWM:") / 1024.0, kilobytes("VmRSS:") / 1024.0, sampled[1], sampled[2], count,
                bytes / 1048576.0);
        ROWS.add(row);
        System.out.println(row);
    }

    private static void sample() {
        while (true) {
            double rss = kilobytes("VmRSS:") / 1024.0;
            double used = HEAP.getHeapMemoryUsage().getUsed() / 1048576.0;
            double committed = HEAP.getHeapMemoryUsage().getCommitted() / 1048576.0;
            synchronized (SAMPLED) {
                Path partial = watched;
                if (partial != null && Files.exists(partial) && !phase.endsWith("(writing)")) {
                    String writing = phase + " (writing)";
                    SAMPLED.put(writing, SAMPLED.get(phase).clone());
                    phase = writing;
                }
                double[] maxima = SAMPLED.get(phase);
                if (maxima != null) {
                    maxima[0] = Math.max(maxima[0], rss);
                    maxima[1] = Math.max(maxima[1], used);
                    maxima[2] = Math.max(maxima[2], committed);
                }
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Resets VmHWM to the current resident set (proc(5), clear_refs value 5). */
    private static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException e) {
            throw new IllegalStateException("cannot reset the peak resident set: " + e.getMessage(), e);
        }
    }

    private static long kilobytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
