package dev.cherryq.cli.commands;

import dev.cherryq.core.model.HfDenseExport;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.recipe.ExportTarget;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.launcher.local.GgufExportJob;
import dev.cherryq.launcher.local.GptqExportJob;
import dev.cherryq.launcher.local.HfDenseExportJob;
import dev.cherryq.launcher.local.LocalJob;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq quantize}: options -> recipe -> {@link LocalJob} (the core pipeline), written as an HF folder. */
@Command(name = "quantize", mixinStandardHelpOptions = true, defaultValueProvider = RecipeOptions.StandardDefaults.class,
        description = {"Quantizes every decoder linear weight (q, k, v, o, gate, up, down) group-wise; embeddings,",
                "norms and lm_head stay in full precision. Methods:",
                "  rtn      round to nearest, no data",
                "  gptq     GPTQ: rounding with second-order error compensation from --calib-text",
                "  qat      quantization-aware training of all weights through the straight-through estimator",
                "  cherryq  cherry selection (Fisher scoring on --calib-text), then QAT with the cherries kept in",
                "           full precision (Cui and Wang, 2024); --init gptq starts QAT from GPTQ's weights",
                "Writes model.safetensors (dense), cherryq-packed.safetensors (deployable), config.json with",
                "quantization_config, the tokenizer, and quantize.json (settings, losses, time and RSS per stage).",
                "A run interrupted during training resumes from its last checkpoint in OUT/checkpoint."})
public final class QuantizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    RecipeOptions recipeOptions;

    @Option(names = "--bits", required = true, description = "bits per normal weight, 2..8")
    int bits;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--calib-text", description = "calibration text (impact scoring, GPTQ)")
    Path calibText;

    @Option(names = "--train-text", description = "training text (qat, cherryq)")
    Path trainText;

    @Option(names = "--checkpoint-every", defaultValue = "50", description = "steps between QAT checkpoints, 0 = only at the end (default: ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Option(names = "--out", required = true, description = "output folder")
    Path out;

    @Option(names = "--export", description = "also write OUT/model-TYPE.gguf for llama.cpp: gguf:f32, gguf:f16, "
            + "gguf:q8_0 or gguf:q4_0 (exact for --scheme sym --group-size 32 at 8 or 4 bits); or OUT/hf-dense-DTYPE, "
            + "an HF folder of the dequantized weights: hf-dense, hf-dense:bf16 (the default), hf-dense:f16 or "
            + "hf-dense:f32; or OUT/gptq, GPTQ's v1 layout: gptq (--scheme sym or asym, 2/4/8 bits; docs/EXPORTS.md)")
    String export;

    /** The recipe of the options given; every check before any compute. */
    QuantizationRecipe recipe() {
        return recipeOptions.toRecipe(bits);
    }

    @Override
    public Integer call() throws IOException {
        QuantizationRecipe recipe = recipe();
        GgufExportJob gguf = null;
        HfDenseExportJob hfDense = null;
        Path gptq = null;
        if (export != null) { // checked before any compute: the form, and that the format holds this model and grid
            ExportTarget target = ExportTarget.parse("--export", export);
            Path exported = out.resolve(target.outputName());
            try (LlamaCheckpoint source = LlamaCheckpoint.open(modelOptions.model)) {
                target.requireHolds("--export", source.config(), recipe.quantSpec());
            }
            switch (target.format()) {
                case GPTQ -> {
                    gptq = exported;
                    HfDenseExport.requireFreshOutput(gptq);
                }
                case HF_DENSE -> {
                    hfDense = new HfDenseExportJob(out, null, target.dtype(), exported);
                    hfDense.check();
                }
                case GGUF -> {
                    gguf = new GgufExportJob(out, modelOptions.tokenizer, target.ggmlType(), exported);
                    new GgufExportJob(modelOptions.model, null, target.ggmlType(), exported).check();
                }
            }
        }
        new LocalJob(recipe, modelOptions.model, modelOptions.tokenizer, calibText, trainText, checkpointEvery, out)
                .run(spec.commandLine().getOut());
        if (gguf != null) {
            gguf.run(spec.commandLine().getOut());
        }
        if (hfDense != null) {
            hfDense.run(spec.commandLine().getOut());
        }
        if (gptq != null) {
            new GptqExportJob(out, null, gptq).run(spec.commandLine().getOut());
        }
        return 0;
    }
}
