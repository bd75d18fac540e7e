package dev.cherryq.cli.commands;

import dev.cherryq.launcher.DemoInputs;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The main job's texts, by default the demo's public-domain ones (run, demo, bench). */
final class DemoTextOptions {

    @Option(names = "--eval-text", description = "held-out text (default: .cache/demo/sotu-heldout.txt, prepared on "
            + "first use)")
    Path evalText;

    @Option(names = "--train-text", description = "calibration and training text (default: .cache/demo/sotu-train.txt)")
    Path trainText;

    /** These texts and {@code model} (null for the demo model), each defaulted to the demo's. */
    DemoInputs resolve(Path model) throws IOException, InterruptedException {
        return DemoInputs.resolve(model, evalText, trainText);
    }
}
