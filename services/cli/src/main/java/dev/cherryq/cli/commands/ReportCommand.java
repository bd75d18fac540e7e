package dev.cherryq.cli.commands;

import dev.cherryq.bench.report.FidelityReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq report}: options -> recipe -> {@link FidelityReport} (services/bench), the fidelity table of the
 * paper's comparison on one model with its controls, ablation, heterogeneity and held-out check.
 */
@Command(name = "report", mixinStandardHelpOptions = true, defaultValueProvider = RecipeOptions.StandardDefaults.class,
        description = {"Runs fp, rtn, gptq, qat, cherryq and gptq+cherryq at each --bits over --seeds, the",
                "equal-bits controls and the criterion ablation, evaluates all on --eval-text, and writes",
                "report.md, report.json and PNG figures to --out."})
public final class ReportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipeOptions;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--calib-text", required = true, description = "calibration text for impact scoring and GPTQ") Path calibText;
    @Option(names = "--train-text", required = true, description = "training text for QAT") Path trainText;
    @Option(names = "--eval-text", required = true, description = "held-out text; never used for training or choices") Path evalText;
    @Option(names = "--bits", split = ",", defaultValue = "2,3,4", description = "bit widths to compare (default: ${DEFAULT-VALUE})") List<Integer> widths;
    @Option(names = "--seeds", split = ",", defaultValue = "0,1,2", description = "seeds of the trained rows (default: ${DEFAULT-VALUE})") List<Long> seeds;
    @Option(names = "--variants", split = ",", description = "rows to run, a subset of rtn, gptq, qat, cherryq, "
            + "gptq+cherryq, cherryq-random, qat-equal-bits (default: all; qat-equal-bits needs qat and cherryq)")
    List<String> variants;
    @Option(names = "--ablation-bits", defaultValue = "3", description = "bit width of the criterion ablation, 0 = none (default: ${DEFAULT-VALUE})") int ablationBits;
    @Option(names = "--eval-seq-len", description = "evaluation window (default: --seq-len)") Integer evalSequenceLength;
    @Option(names = "--training-checkpoints", description = "folder of step-N model folders (cherryq pretrain --checkpoint-every): heterogeneity over training") Path trainingCheckpoints;
    @Option(names = "--memory-steps", defaultValue = "0", description = "also run one CherryQ training of this many steps and report its RSS over time (0: skip)") int memorySteps;
    @Option(names = "--reuse", description = "keep a run whose folder under --out holds a finished job of the same "
            + "recipe, model, tokenizer and texts (a report stopped part way, or run again with more --bits or "
            + "--variants), and its evaluation on the same text and window") boolean reuse;
    @Option(names = "--out", required = true, description = "output folder: report.md, report.json, figures, one folder per run") Path out;

    @Override
    public Integer call() throws IOException {
        FidelityReport.Settings settings = new FidelityReport.Settings(recipeOptions.toRecipe(widths.get(0)),
                modelOptions.model, modelOptions.tokenizer, calibText, trainText, evalText, widths, seeds, variants, ablationBits, evalSequenceLength,
                trainingCheckpoints, memorySteps, reuse, out, RecipeOptions.FLAGS);
        new FidelityReport(settings, spec.commandLine().getOut()).run();
        return 0;
    }
}
