package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.testing.FleetHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark harness starts and writes its tables for a tiny configuration (the CI smoke test; the benchmark
 * itself runs outside {@code ./mvnw verify}: {@code ./cherryq bench}). Checks the report's shape, not its numbers.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BenchSmokeTest {

    @TempDir
    Path dir;

    @Test
    void shouldMeasureATinyConfigurationAndWriteTheReport() throws Exception {
        Path train = Files.writeString(dir.resolve("train.txt"), FleetHarness.sampleText(60, 1));
        Path heldOut = Files.writeString(dir.resolve("heldout.txt"), FleetHarness.sampleText(10, 2));
        Path report = dir.resolve("BENCHMARKS.md");
        CliTest.Run run = CliTest.cherryq("bench", "--tiny", "--runs", 1, "--sections", "ceiling,stages,fleet",
                "--small-model", FleetHarness.demoModel(), "--model", FleetHarness.demoModel(), "--train-text", train,
                "--eval-text", heldOut, "--scratch", dir.resolve("scratch"), "--out", report);
        assertEquals(0, run.exitCode(), run.err());
        String markdown = Files.readString(report);
        for (String heading : new String[] {"## 1. Ceiling", "## 2. Stage throughput", "## 3. Fleet overhead",
                "## 4. Horizontal scaling", "## 5. Memory"}) {
            assertTrue(markdown.contains(heading), heading + " in\n" + markdown);
        }
        assertTrue(markdown.matches("(?s).*\\| large \\(the ceiling\\) \\| 256 x 512 x 512 \\| [0-9.]+ \\(.*"), markdown);
        assertTrue(markdown.matches("(?s).*\\| demo \\| CherryQ QAT step \\| [0-9,]+ \\(.*"), markdown);
        assertTrue(markdown.matches("(?s).*\\| embedded fleet \\(`run`\\) \\| [0-9.]+ \\(.*"), markdown);
        assertTrue(markdown.contains("these numbers mean nothing"), "a tiny run says it is not a benchmark");
        assertTrue(Files.notExists(dir.resolve("scratch")), "the scratch folder is removed");
    }

    /**
     * The block-wise section on tiny sizes: two process fleets (one trainer, then two under a budget) whose report
     * rows carry positive peaks and rates, and in which both trainer workers took tasks.
     */
    @Test
    void shouldMeasureBlockwiseTrainingOnTwoTrainerProcesses() throws Exception {
        Path train = Files.writeString(dir.resolve("train.txt"), FleetHarness.sampleText(60, 1));
        Path heldOut = Files.writeString(dir.resolve("heldout.txt"), FleetHarness.sampleText(10, 2));
        Path report = dir.resolve("BENCHMARKS.md");
        CliTest.Run run = CliTest.cherryq("bench", "--tiny", "--runs", 1, "--sections", "blockwise",
                "--small-model", FleetHarness.demoModel(), "--model", FleetHarness.demoModel(), "--train-text", train,
                "--eval-text", heldOut, "--scratch", dir.resolve("scratch"), "--out", report);
        assertEquals(0, run.exitCode(), run.err());
        String markdown = Files.readString(report);
        assertTrue(markdown.contains("## 6. Block-wise training"), markdown);
        assertTrue(markdown.matches("(?s).*\\| end-to-end, trainer-1 \\(1 worker, no budget\\) \\| 2 segments \\| "
                + "[0-9.]+ \\| - \\| [1-9][0-9]* \\(.*"), markdown);
        for (String worker : new String[] {"trainer-1", "trainer-2"}) {
            // tasks (captures, blocks) not both zero; seconds, task peak and process peak positive
            assertTrue(markdown.matches("(?s).*\\| block-wise, " + worker + " \\(2 workers, budget [0-9,]+\\) \\| "
                    + "(?!0, 0 )[0-9]+, [0-9]+ \\| [0-9.]+ \\| [1-9][0-9]* \\| [1-9][0-9]* \\|.*"), worker + " in\n"
                    + markdown);
        }
        assertTrue(markdown.contains("; both workers took tasks)"), markdown);
        assertTrue(markdown.matches("(?s).*\\| 1 \\| 3 \\| [0-9.]+ \\| 0?\\.?[0-9.]+ \\(.*"), markdown);
        assertTrue(markdown.matches("(?s).*\\| 2 \\| 3 \\| [0-9.]+ \\| 0?\\.?[0-9.]+ \\(.*"), markdown);
        assertTrue(markdown.matches("(?s).*two trainer workers give >= 1.6x the block throughput of one.\\*\\* "
                + "(Met|\\*\\*Missed): [0-9.]+x.*"), markdown);
        assertTrue(markdown.matches("(?s).*block-wise on 2 workers [0-9.]+, on 1 worker [0-9.]+, end-to-end [0-9.]+.*"),
                markdown);
        assertTrue(Files.notExists(dir.resolve("scratch")), "the scratch folder is removed");
    }

    @Test
    void shouldRefuseAnUnknownSection() {
        CliTest.Run run = CliTest.cherryq("bench", "--tiny", "--sections", "ceiling,warp-drive", "--out",
                dir.resolve("x.md"));
        assertEquals(2, run.exitCode(), run.out());
        assertTrue(run.err().contains("unknown section 'warp-drive'"), run.err());
    }
}
