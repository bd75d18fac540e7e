package dev.cherryq.cli.commands;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.model.HfDenseExport;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.tokenizer.Tokenizer;
import dev.cherryq.launcher.output.ProgressBar;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cherryq convert}: a llama2.c checkpoint (or any loadable model) to an HF LLaMA folder. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Writes an HF LLaMA folder (config.json + safetensors) into a new or empty folder. From llama2.c,",
                "the rows of wq and wk are permuted from interleaved to rotate-half RoPE, as HF's",
                "convert_llama_weights_to_hf.py does. 'cherryq export --format hf-dense' writes the same folder."})
public final class ConvertCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "llama2.c .bin checkpoint (or an HF folder to re-save)")
    Path model;

    @Option(names = "--tokenizer", description = "tokenizer to copy into the folder (llama2.c tokenizer .bin or tokenizer.json)")
    Path tokenizer;

    @Option(names = "--out", required = true, description = "output folder")
    Path out;

    @Option(names = "--dtype", defaultValue = "F32", description = "F32, F16 or BF16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--max-shard-bytes", defaultValue = "4000000000", description = "split weights into shards of at most this size (default: ${DEFAULT-VALUE})")
    long maxShardBytes;

    @Override
    public Integer call() {
        DType storage = DType.fromSafetensorsName(dtype.toUpperCase(java.util.Locale.ROOT));
        if (storage != DType.F32 && storage != DType.F16 && storage != DType.BF16) {
            throw new InvalidInputException("--dtype '" + dtype + "' is not supported (supported: F32, F16, BF16)");
        }
        if (maxShardBytes < 1) {
            throw new InvalidInputException("--max-shard-bytes must be positive, got " + maxShardBytes);
        }
        if (tokenizer != null) {
            Tokenizer.load(tokenizer); // validate before writing anything
        }
        HfDenseExport.requireFreshOutput(out);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model); ProgressBar bar = new ProgressBar("convert")) {
            HfDenseExport.write(checkpoint, storage, tokenizer, out, Map.of("cherryq.converted_from",
                    checkpoint.format()), maxShardBytes, bar);
        }
        spec.commandLine().getOut().printf("wrote %s%n", out);
        return 0;
    }
}
