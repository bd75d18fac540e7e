package dev.cherryq.cli.commands;

import dev.cherryq.bench.Benchmark;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.launcher.DemoInputs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq bench}: options -> {@link Benchmark} (services/bench), which measures, side by side in one run and
 * over several runs, the fp32 matmul ceiling of this machine, each stage's throughput as a fraction of it, the
 * fleet's cost over one process, horizontal scaling of scorers and evaluators, per-stage memory, and block-wise
 * training's memory and throughput on a 12-block, 60M-parameter random model, and writes docs/BENCHMARKS.md with
 * min / median / max.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks: matmul ceiling, stage throughput and MFU, fleet overhead, 1 vs 2 workers, memory,",
                "block-wise training (memory under a budget, 1 vs 2 trainers).",
                "Writes a markdown report (default docs/BENCHMARKS.md). Run it alone on the machine: it measures time."})
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--runs", defaultValue = "5", description = "repetitions of every measurement (default: ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--model", description = "the largest model (default: models/sotu-3m)")
    Path largeModel;

    @Option(names = "--small-model", description = "the small model of the fleet job (default: models/demo)")
    Path smallModel;

    @Mixin
    DemoTextOptions texts;

    @Option(names = "--sections", split = ",", defaultValue = "ceiling,stages,fleet,main,processes,scaling,blockwise",
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
            if (!Benchmark.SECTIONS.contains(section)) {
                throw new InvalidInputException("--sections: unknown section '" + section + "' (known: "
                        + Benchmark.SECTIONS + ")");
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
        DemoInputs inputs = texts.resolve(smallModel);
        Path large = largeModel != null ? largeModel
                : Path.of(System.getProperty("cherryq.home", ".")).toAbsolutePath().normalize().resolve("models/sotu-3m");
        if (!Files.exists(large)) {
            throw new InvalidInputException(large + ": model not found (--model)");
        }
        Benchmark.run(new Benchmark.Settings(runs, inputs.model(), large, inputs.training(), inputs.heldOut(), sections,
                tiny, soakMinutes, scratch, out, commandLine()), spec.commandLine().getOut());
        return 0;
    }

    private String commandLine() {
        return "./cherryq bench" + (runs != 5 ? " --runs " + runs : "") + (tiny ? " --tiny" : "")
                + (threads != null ? " --threads " + threads : "")
                + (soakMinutes > 0 ? String.format(Locale.ROOT, " --soak-minutes %.0f", soakMinutes) : "")
                + (sections.size() != Benchmark.SECTIONS.size() ? " --sections " + String.join(",", sections) : "");
    }
}
