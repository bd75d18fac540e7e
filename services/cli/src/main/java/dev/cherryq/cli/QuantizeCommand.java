package dev.cherryq.cli;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.quant.RtnQuantizer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code cherryq quantize}: writes a quantized model as an HF folder that {@code cherryq eval} loads. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantizes every decoder linear weight (q, k, v, o, gate, up, down) group-wise; embeddings,",
                "norms and lm_head stay in full precision. Writes an HF folder of dense dequantized weights."})
final class QuantizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "HF model folder or llama2.c .bin checkpoint")
    Path model;

    @Option(names = "--method", defaultValue = "rtn", description = "rtn (round to nearest) (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--bits", required = true, description = "bits per weight, 2..8")
    int bits;

    @Option(names = "--group-size", defaultValue = "128", description = "weights per group along a row; -1 = whole row (default: ${DEFAULT-VALUE})")
    int groupSize;

    @Option(names = "--scheme", defaultValue = "sym-full", description = "sym-full (the CherryQ paper's) or asym (default: ${DEFAULT-VALUE})")
    String scheme;

    @Option(names = "--tokenizer", description = "tokenizer to copy into the output folder (default: the model folder's)")
    Path tokenizer;

    @Option(names = "--out", required = true, description = "output folder")
    Path out;

    @Override
    public Integer call() {
        QuantSpec quantSpec = new QuantSpec(bits, groupSize, QuantScheme.parse(scheme));
        if (!method.equals("rtn")) {
            throw new InvalidInputException("--method '" + method + "' is not available in this build (available: rtn)");
        }
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model); ProgressBar bar = new ProgressBar("quantize")) {
            RtnQuantizer.quantize(checkpoint, quantSpec, out, bar);
            if (tokenizer != null) {
                dev.cherryq.core.model.HfModelWriter.copyTokenizer(tokenizer, out);
            }
        }
        spec.commandLine().getOut().printf("wrote %s (method rtn, %d-bit, group size %d, %s)%n", out, bits, groupSize,
                quantSpec.scheme().cliName());
        return 0;
    }
}
