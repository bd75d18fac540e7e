package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.launcher.output.TrainingPlots;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq plot-losses}: the loss curve PNG of a run from its training.json. */
@Command(name = "plot-losses", mixinStandardHelpOptions = true,
        description = "Draws the training-loss curve recorded in a training.json (as written by cherryq pretrain).")
public final class PlotLossesCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--training-json", required = true, description = "training.json with a 'losses' array")
    Path trainingJson;

    @Option(names = "--out", required = true, description = "output PNG")
    Path out;

    @Override
    public Integer call() throws IOException {
        JsonNode root = InputFiles.readJson(trainingJson, "training.json");
        JsonNode lossNode = root.get("losses");
        if (lossNode == null || !lossNode.isArray() || lossNode.isEmpty()) {
            throw new InvalidInputException(trainingJson + ": field 'losses' is missing or empty");
        }
        List<Double> losses = new ArrayList<>();
        lossNode.forEach(v -> losses.add(v.asDouble()));
        String title = "Training loss, " + root.path("parameters").asLong() / 1000 + "k parameters, "
                + root.path("text").asText("");
        TrainingPlots.lossCurve(losses, title, out);
        spec.commandLine().getOut().printf("wrote %s%n", out);
        return 0;
    }
}
