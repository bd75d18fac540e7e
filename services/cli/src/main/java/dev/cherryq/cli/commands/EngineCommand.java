package dev.cherryq.cli.commands;

import ai.djl.engine.Engine;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code cherryq engine}: loads the PyTorch engine (offline) and says which one it is. Container images run it at
 * build time so the natives unpack into the image, and a GPU image checks with {@code --require-gpu} that its CUDA
 * libtorch, not the CPU one in the jar, was loaded.
 */
@Command(name = "engine", mixinStandardHelpOptions = true,
        description = {"Loads the PyTorch engine offline and prints its version, native library folder, GPU count",
                "and thread setting. Exit 2 with --require-gpu when no GPU is visible."})
public final class EngineCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--require-gpu", description = "fail unless the engine sees at least one GPU")
    boolean requireGpu;

    @Override
    public Integer call() {
        Engine engine = DjlRuntime.engine();
        int gpus = engine.getGpuCount();
        spec.commandLine().getOut().printf("engine %s %s; natives %s; GPUs %d; threads %s%n", engine.getEngineName(),
                engine.getVersion(), System.getenv().getOrDefault("PYTORCH_LIBRARY_PATH",
                        "from the jar, unpacked under " + System.getenv().getOrDefault("ENGINE_CACHE_DIR", "~/.djl.ai")),
                gpus, System.getProperty("ai.djl.pytorch.num_threads", "default"));
        if (requireGpu && gpus == 0) {
            throw new InvalidInputException("no GPU visible to PyTorch " + engine.getVersion()
                    + ": check the CUDA libtorch (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR) and the node's NVIDIA runtime");
        }
        return 0;
    }
}
