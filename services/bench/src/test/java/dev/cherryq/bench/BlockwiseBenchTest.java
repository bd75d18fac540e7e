package dev.cherryq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.qat.MemoryEstimate;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.StageProgress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The block-wise section's arithmetic against figures worked out by hand: the block phase of a made-up job's
 * events, worker pids, the report's verdicts, and the random model's size against the floor.
 */
class BlockwiseBenchTest {

    @TempDir
    Path dir;

    private static JobEvent trainer(int index, int total, long at) {
        return JobEvent.newBuilder().setStage(Stage.STAGE_TRAINER).setState(JobState.JOB_STATE_TRAINING)
                .setAtUnixMs(at).setProgress(StageProgress.newBuilder().setStage(Stage.STAGE_TRAINER)
                        .setTotal(total).addCompleted(index)).build();
    }

    private static JobEvent task(long at, long cpuMs) {
        return JobEvent.newBuilder().setStage(Stage.STAGE_TRAINER).setAtUnixMs(at)
                .setTask(dev.cherryq.proto.v1.TaskRecord.newBuilder().setCpuMs(cpuMs)).build();
    }

    @Test
    void shouldTimeTheBlocksFromTheLastCaptureToTheLastBlock() {
        // 2 capture shards, 3 blocks, the assembly: total 6; block 1 redelivered late, counted at its first event
        // a task event (CPU time, stamped just after its task's events) before each progress event: the captures',
        // the repeat's and the assembly's do not count
        List<JobEvent> events = List.of(
                JobEvent.newBuilder().setStage(Stage.STAGE_PLANNER).setState(JobState.JOB_STATE_TRAINING)
                        .setAtUnixMs(500).setProgress(StageProgress.newBuilder().setTotal(6)).build(),
                task(1001, 800), trainer(1, 6, 1000), task(1201, 900), trainer(0, 6, 1200),
                task(3201, 1500), trainer(2, 6, 3200), task(4701, 1400), trainer(4, 6, 4700),
                task(5201, 2100), trainer(3, 6, 5200), task(9001, 100), trainer(3, 6, 9000), task(6001, 700),
                trainer(5, 6, 6000));
        BlockwiseBench.BlockPhase phase = BlockwiseBench.blockPhase(events, 3);
        assertEquals(3, phase.blocks());
        assertEquals(1200, phase.sentAtMs(), "the later capture's event sent the block tasks");
        assertEquals(5200, phase.lastBlockAtMs(), "block 1 (index 3) ended last; its repeat and the assembly do not count");
        assertEquals(4.0, phase.seconds(), 1e-12);
        assertEquals(0.75, phase.blocksPerSecond(), 1e-12);
        assertEquals(5.0, phase.cpuSeconds(), 1e-12, "the three block tasks' CPU: 1.5 + 1.4 + 2.1 s");
        assertEquals(1.25, phase.cores(), 1e-12);
        assertEquals(0.6, phase.blocksPerCpuSecond(), 1e-12);
        assertThrows(IllegalStateException.class, () -> BlockwiseBench.blockPhase(events.subList(0, 4), 3),
                "a block without its event is not timed");
    }

    @Test
    void shouldFindTheProcessOfATrainerWorker() {
        assertEquals(4321, BlockwiseBench.pidOf("trainer 4321/vm-7"));
        assertEquals(-1, BlockwiseBench.pidOf("trainer"));
    }

    @Test
    void shouldJudgeThePeaksAndTheSpeedUp() throws IOException {
        LlamaConfig config = BlockwiseBench.Sizes.TINY.config(1024);
        FleetBench.Job job = BlockwiseBench.Sizes.TINY.job(dir, dir, dir);
        BlockwiseBench.BlockPhase one = new BlockwiseBench.BlockPhase(3, 0, 6000, 6.0);
        BlockwiseBench.BlockPhase two = new BlockwiseBench.BlockPhase(3, 0, 4000, 6.0);
        BlockwiseBench.Result result = new BlockwiseBench.Result("1.00 0.50 0.20", "2.00 1.00 0.40", job, config,
                config.parameterCount(), 900, 600, 750, 1000, 6.9, 12, List.of(
                        new BlockwiseBench.TrainerWorker("trainer-1", 1, 2, 5, 700, 800),
                        new BlockwiseBench.TrainerWorker("trainer-2", 1, 1, 4, 650, 1010)),
                6.8, 6.8, 20, one, two);
        assertEquals(1.5, result.speedup(), 1e-12);
        BenchStats stats = new BenchStats();
        stats.add("blockwise e2e peak", 1000);
        stats.add("blockwise blocks/s 1", 0.5);
        stats.add("blockwise blocks/s 2", 0.75);
        stats.add("blockwise speedup", result.speedup());
        LatestRuns latest = new LatestRuns();
        latest.blockwise(result);
        String section = BenchReport.blockwise(stats, latest);
        assertTrue(section.contains("| block-wise, trainer-2 (2 workers, budget 750) | 1, 1 | 4.0 | 650 | 1010 |"),
                section);
        assertTrue(section.contains("stayed under the end-to-end trainer's peak:** **no** (the highest 1010 MiB "
                + "against 1000 MiB; both workers took tasks)"), section);
        assertTrue(section.contains("**Missed: 1.50x**"), section);
        assertTrue(section.contains("before the section: 1.00 0.50 0.20; after: 2.00 1.00 0.40"), section);
        assertTrue(BenchReport.blockwise(new BenchStats(), new LatestRuns()).contains("Not measured"));
    }

    @Test
    void shouldWriteARandomModelOfTwelveBlocksAndFiftyMillionParameters() throws IOException {
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), "{}");
        LlamaConfig full = BlockwiseBench.Sizes.FULL.config(1024);
        assertTrue(full.numberOfLayers() >= 12 && full.parameterCount() >= 50_000_000L,
                full.numberOfLayers() + " blocks, " + full.parameterCount() + " parameters");
        FleetBench.Job job = BlockwiseBench.Sizes.FULL.job(dir, dir, dir);
        long windows = (long) job.steps() * job.batchSize();
        long block = MemoryEstimate.blockTask(full, windows, 16, job.seqLen(), job.batchSize(), false);
        long endToEnd = MemoryEstimate.endToEndTask(full, job.batchSize(), job.seqLen(), true);
        assertTrue(2 * block < endToEnd, "a budget midway lies between: block " + block + ", end-to-end " + endToEnd);
        Path model = BlockwiseBench.randomModel(dir.resolve("random"), BlockwiseBench.Sizes.TINY, tokenizer, 1024);
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model)) {
            LlamaConfig tiny = BlockwiseBench.Sizes.TINY.config(1024);
            assertEquals(tiny.numberOfLayers(), checkpoint.config().numberOfLayers());
            assertEquals(tiny.parameterCount(), checkpoint.config().parameterCount());
            assertTrue(Files.exists(model.resolve("tokenizer.json")));
        }
    }
}
