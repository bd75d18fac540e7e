package dev.cherryq.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.Progress;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.fleet.testing.StageFixtures;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.TensorRef;
import dev.cherryq.proto.v1.TrainTask;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer against a real broker: QAT in two checkpointed segments ends where one uninterrupted run ends. */
class TrainerStageTest {

    @TempDir
    Path directory;

    /**
     * What the fleet trained in two segments, and what one uninterrupted core run trained from the same inputs: its
     * parameters, and its export (packed and dense) in a folder of its own.
     */
    private record SegmentedRun(TrainTask first, EvalTask evalTask, Path exported, Map<String, float[]> expected,
            Path expectedExport) {}

    /** Sends the first segment of a 4-step CherryQ job to the trainer and waits for its evaluation tasks. */
    private SegmentedRun trainInSegments(FleetHarness harness) throws Exception {
        QuantizationRequest request = StageFixtures.request("job-train");
        PreparedData data = StageFixtures.prepare(harness, "job-train");
        FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
        CherrySet cherries;
        Map<String, float[]> expected = new LinkedHashMap<>();
        int[] tokens = StageFixtures.tokens(harness, data.getTrainTokens());
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                LlamaModel model = LlamaModel.load(checkpoint)) {
            Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(checkpoint.config());
            cherries = CherrySelector.select(SelectionCriterion.RANDOM, request.getCherryFraction(), Map.of(),
                    shapes, 1);
            // independent reference: one uninterrupted run of the core pipeline in this process (the request leaves
            // the loss unset, so both train with the recipe's default)
            QuantizationRecipe recipe = RequestSettings.recipe(request);
            CherryqPipeline.Start start = CherryqPipeline.start(model, recipe, null, cherries, false, Progress.NONE);
            CherryqPipeline.train(model, checkpoint, start, recipe, cherries, tokens, null, 0,
                    recipe.training().steps(), Progress.NONE);
            model.parameters().forEach((name, value) -> expected.put(name, value.toFloatArray()));
            CherryqPipeline.export(model, checkpoint, recipe, cherries, directory.resolve("reference-export"),
                    Progress.NONE);
        }
        Path cherryFile = directory.resolve("cherries.safetensors");
        cherries.write(cherryFile);
        TensorRef cherryRef = store.put("jobs/job-train/selector/cherries.safetensors", cherryFile,
                ObjectStore.MEDIA_SAFETENSORS, "");
        TrainTask first = TrainTask.newBuilder().setJobId("job-train").setRequest(request).setData(data)
                .setCherries(cherryRef).setSegment(0).setSegmentCount(2).setFromStep(0).setToStep(2).build();
        harness.send(Topics.TRAIN_TASKS, "job-train", first);
        List<EvalTask> evalTasks = harness.await(Topics.EVAL_TASKS, EvalTask.parser(), t -> !t.isEmpty());
        List<TrainTask> segments = harness.await(Topics.TRAIN_TASKS, TrainTask.parser(), t -> t.size() >= 2);
        assertEquals(2, segments.size());
        assertEquals(2, segments.get(1).getFromStep());
        assertTrue(segments.get(1).hasPreviousCheckpoint());
        EvalTask evalTask = evalTasks.get(0);
        assertEquals("cherryq", evalTask.getVariant());
        assertTrue(evalTask.getQuantized().getEffectiveBits() > 3, "cherries and scales cost bits");
        assertEquals(4, evalTask.getQuantized().getLossesCount());

        Path exported = null;
        for (TensorRef file : evalTask.getModel().getFilesList()) {
            Path local = store.fetch(file, directory);
            exported = local.getParent();
        }
        return new SegmentedRun(first, evalTask, exported, expected, directory.resolve("reference-export"));
    }

    @Test
    void shouldTrainInCheckpointedSegmentsAndSkipADuplicateSegment() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            ServiceHost host = harness.start("trainer", List.of(StageVerticle.of(TrainerHandler::new)));
            SegmentedRun run = trainInSegments(harness);
            TrainTask first = run.first();
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(run.exported())) {
                for (String name : LlamaTensorNames.linearWeights(checkpoint.config())) {
                    assertTrue(checkpoint.tensors().contains(name), name);
                }
            }

            // segment 0 redelivered after its checkpoint exists: it re-emits segment 1, whose output (the exported
            // model) exists too, so both are duplicates and nothing is trained again
            harness.send(Topics.TRAIN_TASKS, "job-train", first);
            harness.await(Topics.TRAIN_TASKS, TrainTask.parser(), t -> t.size() >= 3);
            String duplicates = "cherryq_tasks_deduplicated_total{stage=\"trainer\"} 2.0";
            String completed = "cherryq_tasks_completed_total{stage=\"trainer\"} 4.0";
            String metrics = FleetHarness.awaitMetrics(host, duplicates, completed);
            assertTrue(metrics.contains(duplicates), metrics);
            assertTrue(metrics.contains(completed), metrics);
            assertTrue(metrics.contains("cherryq_tokens_processed_total{stage=\"trainer\"} 256.0"),
                    "tokens of the first two segments only (4 steps x 2 windows x 32): " + metrics);
        }
    }

    @Test
    void shouldTrainInSegmentsToTheWeightsOfOneRun() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("trainer", List.of(StageVerticle.of(TrainerHandler::new)));
            SegmentedRun run = trainInSegments(harness);
            Map<String, float[]> expected = run.expected();
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(run.exported())) {
                // embeddings are trained and kept in full precision: two segments on the fleet's compute thread end
                // bit for bit where one run on this thread ends (same batches, schedule, optimizer state, one thread)
                String embedding = "model.embed_tokens.weight";
                float[] trained = checkpoint.tensors().readFloats(embedding);
                assertArrayEquals(expected.get(embedding), trained, 0f, embedding);
                try (LlamaCheckpoint original = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                    float[] before = original.tensors().readFloats(embedding);
                    double moved = 0;
                    for (int i = 0; i < before.length; i++) {
                        moved = Math.max(moved, Math.abs(before[i] - trained[i]));
                    }
                    assertTrue(moved > 1e-3, "training moved the embeddings by " + moved);
                }
                // the quantized linear weights (dequantized codes with the cherries in place) match as well
                try (LlamaCheckpoint reference = LlamaCheckpoint.open(run.expectedExport())) {
                    for (String name : LlamaTensorNames.linearWeights(checkpoint.config())) {
                        assertArrayEquals(reference.tensors().readFloats(name), checkpoint.tensors().readFloats(name),
                                0f, name);
                    }
                }
            }
        }
    }

    @Test
    void shouldRunGptqAsOneTaskToTheWeightsOfTheOneProcessPipeline() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("trainer", List.of(StageVerticle.of(TrainerHandler::new)));
            QuantizationRequest request = StageFixtures.request("job-gptq").toBuilder()
                    .setMethod(dev.cherryq.proto.v1.Method.METHOD_GPTQ).setExport("gguf:f32").build();
            QuantizationRecipe recipe = RequestSettings.recipe(request);
            PreparedData data = StageFixtures.prepare(harness, "job-gptq");
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            // independent of the stage: the core pipeline in this process, exported to a folder of its own (named as
            // the trainer's is: GGUF's general.name is the folder's name)
            Path reference = directory.resolve("reference").resolve("model");
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                int[] calibration = StageFixtures.tokens(harness, data.getCalibrationTokens());
                CherryqPipeline.gptq(model, recipe, CherryqPipeline.calibrationSamples(recipe, calibration,
                        request.getSeqLen(), RequestSettings.calibratesOnTrainingText(data)),
                        CherrySet.empty(), Progress.NONE);
                CherryqPipeline.export(model, checkpoint, recipe, CherrySet.empty(), reference, Progress.NONE);
            }
            harness.send(Topics.TRAIN_TASKS, "job-gptq", TrainTask.newBuilder().setJobId("job-gptq")
                    .setRequest(request).setData(data).setSegment(0).setSegmentCount(1).setFromStep(0)
                    .setToStep(RequestSettings.firstSegmentEnd(request)).build());
            EvalTask evalTask = harness.await(Topics.EVAL_TASKS, EvalTask.parser(), t -> !t.isEmpty()).get(0);
            assertEquals("gptq", evalTask.getVariant());
            assertEquals(0, evalTask.getQuantized().getLossesCount(), "GPTQ trains no steps");
            // the request's export, written from the exported folder and stored apart from the model's files
            assertEquals("gguf:f32", evalTask.getQuantized().getExportFormat());
            assertEquals(1, evalTask.getQuantized().getExportFilesCount());
            Path gguf = store.fetch(evalTask.getQuantized().getExportFiles(0), directory.resolve("export"));
            Path expectedGguf = dev.cherryq.core.recipe.ExportTarget.parse("export", "gguf:f32").write(reference,
                    directory.resolve("reference-model.gguf"), Progress.NONE);
            assertArrayEquals(java.nio.file.Files.readAllBytes(expectedGguf), java.nio.file.Files.readAllBytes(gguf),
                    "the GGUF of the fleet's model is the GGUF of one process's");
            assertTrue(evalTask.getModel().getFilesList().stream().noneMatch(f -> f.getUri().endsWith(".gguf")));
            Path exported = null;
            for (TensorRef file : evalTask.getModel().getFilesList()) {
                exported = store.fetch(file, directory.resolve("fleet")).getParent();
            }
            try (LlamaCheckpoint fleet = LlamaCheckpoint.open(exported);
                    LlamaCheckpoint expected = LlamaCheckpoint.open(reference);
                    LlamaCheckpoint original = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                int changed = 0;
                for (String name : LlamaTensorNames.linearWeights(fleet.config())) {
                    float[] weights = fleet.tensors().readFloats(name);
                    assertArrayEquals(expected.tensors().readFloats(name), weights, 0f, name);
                    float[] rtn = dev.cherryq.core.quant.GroupQuantizer.quantize(original.tensors().readFloats(name),
                            (int) fleet.tensors().info(name).shape()[0], (int) fleet.tensors().info(name).shape()[1],
                            recipe.quantSpec(), null, true).dequantize(); // f16 scales, as exported
                    for (int i = 0; i < rtn.length; i++) {
                        changed += rtn[i] != weights[i] ? 1 : 0;
                    }
                }
                assertTrue(changed > 0, "GPTQ's rounding differs from round to nearest somewhere");
            }
        }
    }

    /** Without and with the end-to-end phase after the blocks (3 steps), which the assembly task runs. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 3})
    void shouldTrainBlockwiseOverCaptureAndBlockTasksToTheWeightsOfOneProcess(int endToEndSteps) throws Exception {
        trainBlockwiseAgainstOneProcess(4, endToEndSteps, Map.of(), false);
    }

    @Test
    void shouldStreamTheCapturedWindowsWhenHoldingThemExceedsTheBudgetToTheSameWeights() throws Exception {
        long held;
        long streamed;
        int steps = 32; // enough windows that holding them all needs a MiB more than one micro-batch's
        try (LlamaCheckpoint demo = LlamaCheckpoint.open(FleetHarness.demoModel())) {
            QuantizationRequest request = blockwiseRequest(steps, 0);
            QuantizationRecipe recipe = RequestSettings.recipe(request);
            long windows = (long) recipe.training().steps() * recipe.training().gradientAccumulation()
                    * recipe.training().batchSize();
            held = dev.cherryq.core.qat.MemoryEstimate.mebibytes(dev.cherryq.core.qat.MemoryEstimate.blockTask(
                    demo.config(), windows, recipe.training().validationWindows(), request.getSeqLen(),
                    recipe.training().batchSize(), false));
            streamed = dev.cherryq.core.qat.MemoryEstimate.mebibytes(dev.cherryq.core.qat.MemoryEstimate.blockTask(
                    demo.config(), windows, recipe.training().validationWindows(), request.getSeqLen(),
                    recipe.training().batchSize(), true));
        }
        assertTrue(streamed < held, "the budget must lie between the two needs: " + streamed + " and " + held);
        trainBlockwiseAgainstOneProcess(steps, 0, Map.of("CHERRYQ_MEMORY_BUDGET", Long.toString(streamed)), true);
    }

    /**
     * The stage fixtures' request trained block-wise for {@code steps} steps in two segments (two capture shards),
     * then {@code endToEndSteps} of the end-to-end phase.
     */
    private static QuantizationRequest blockwiseRequest(int steps, int endToEndSteps) {
        QuantizationRequest request = StageFixtures.request("job-blocks");
        return request.toBuilder().setQat(request.getQat().toBuilder().setSteps(steps).setSegmentSteps(steps / 2)
                .setMode(dev.cherryq.proto.v1.TrainingMode.TRAINING_MODE_BLOCKWISE).setE2ESteps(endToEndSteps))
                .build();
    }

    /**
     * A block-wise job's capture, block and assembly tasks on a trainer with {@code environment}: the exported
     * weights equal one process's, bit for bit, and every block held or streamed its windows as {@code streamed}.
     */
    private void trainBlockwiseAgainstOneProcess(int steps, int endToEndSteps, Map<String, String> environment,
            boolean streamed) throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            ServiceHost host = harness.start("trainer", List.of(StageVerticle.of(TrainerHandler::new)), environment);
            QuantizationRequest request = blockwiseRequest(steps, endToEndSteps);
            QuantizationRecipe recipe = RequestSettings.recipe(request);
            PreparedData data = StageFixtures.prepare(harness, "job-blocks");
            FilesystemObjectStore store = new FilesystemObjectStore(harness.config().storeDirectory());
            int[] tokens = StageFixtures.tokens(harness, data.getTrainTokens());
            // independent of the stage: block-wise training in this process, exported to a folder of its own
            Path reference = directory.resolve("reference");
            CherrySet cherries;
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(FleetHarness.demoModel());
                    LlamaModel model = LlamaModel.load(checkpoint)) {
                cherries = CherrySelector.select(SelectionCriterion.RANDOM, request.getCherryFraction(), Map.of(),
                        LlamaTensorNames.linearWeightShapes(checkpoint.config()), 1);
                CherryqPipeline.trainBlockwise(model, checkpoint, recipe, cherries, tokens,
                        directory.resolve("activations"), Progress.NONE);
                if (endToEndSteps > 0) { // distilled (the request leaves the loss unset): the capture's last depth
                    CherryqPipeline.trainEndToEndPhase(model, checkpoint, recipe, cherries, tokens,
                            List.of(dev.cherryq.core.qat.BlockActivations.file(directory.resolve("activations")
                                    .resolve("train"), checkpoint.config().numberOfLayers())), Progress.NONE);
                }
                CherryqPipeline.export(model, checkpoint, recipe, cherries, reference, Progress.NONE);
            }
            Path cherryFile = directory.resolve("cherries.safetensors");
            cherries.write(cherryFile);
            TensorRef cherryRef = store.put("jobs/job-blocks/selector/cherries.safetensors", cherryFile,
                    ObjectStore.MEDIA_SAFETENSORS, "");
            // what the selector sends: the capture shards (two segments: two shards)
            List<dev.cherryq.fleet.task.Outgoing> start = new dev.cherryq.fleet.job.JobPlan(request, data)
                    .trainingStart(cherryRef, null);
            assertEquals(2, start.size());
            for (dev.cherryq.fleet.task.Outgoing capture : start) {
                harness.send(Topics.TRAIN_TASKS, capture.key(), capture.message());
            }
            EvalTask evalTask = harness.await(Topics.EVAL_TASKS, EvalTask.parser(), t -> !t.isEmpty()).get(0);
            List<TrainTask> tasks = harness.await(Topics.TRAIN_TASKS, TrainTask.parser(), t -> t.size() >= 7);
            assertEquals(List.of("BLOCKWISE_STEP_ASSEMBLE", "BLOCKWISE_STEP_BLOCK", "BLOCKWISE_STEP_BLOCK",
                    "BLOCKWISE_STEP_BLOCK", "BLOCKWISE_STEP_BLOCK", "BLOCKWISE_STEP_CAPTURE", "BLOCKWISE_STEP_CAPTURE"),
                    tasks.stream().map(task -> task.getBlockwise().name()).sorted().toList());
            assertEquals("cherryq", evalTask.getVariant());
            assertEquals(6, evalTask.getQuantized().getTrainerTasksCount(), "two captures and four blocks recorded");
            assertEquals(steps, evalTask.getQuantized().getLossesCount(), "the blocks' mean error per step");
            Path exported = null;
            for (TensorRef file : evalTask.getModel().getFilesList()) {
                exported = store.fetch(file, directory.resolve("fleet")).getParent();
            }
            try (LlamaCheckpoint fleet = LlamaCheckpoint.open(exported);
                    LlamaCheckpoint expected = LlamaCheckpoint.open(reference);
                    LlamaCheckpoint original = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                // dequantized linear weights with their cherries, and the norms, as one process trained them
                for (String name : fleet.tensors().tensorNames()) {
                    assertArrayEquals(expected.tensors().readFloats(name), fleet.tensors().readFloats(name), 0f, name);
                }
                String norm = LlamaTensorNames.attentionNorm(1);
                float[] before = original.tensors().readFloats(norm);
                float[] after = fleet.tensors().readFloats(norm);
                assertTrue(!java.util.Arrays.equals(before, after), "block training moved the norms");
                // only the end-to-end phase trains the final norm
                assertEquals(endToEndSteps > 0, !java.util.Arrays.equals(original.tensors().readFloats(
                        LlamaTensorNames.FINAL_NORM), fleet.tensors().readFloats(LlamaTensorNames.FINAL_NORM)));
            }
            for (int block = 0; block < data.getLayers(); block++) {
                dev.cherryq.proto.v1.BlockResult result = dev.cherryq.proto.v1.BlockResult.parseFrom(store.readIfExists(
                        String.format(java.util.Locale.ROOT, "jobs/job-blocks/trainer/blocks/block-%04d.pb", block))
                        .orElseThrow());
                assertEquals(streamed, result.getStreamed(), "block " + block + " streamed its windows");
            }
            // a block task redelivered after its output exists trains nothing; it re-emits the assembly, whose
            // summary exists too: two duplicates
            TrainTask block = tasks.stream().filter(t -> t.getBlockwise().name().endsWith("BLOCK")).findFirst()
                    .orElseThrow();
            harness.send(Topics.TRAIN_TASKS, "job-blocks/block/" + block.getBlock(), block);
            String duplicates = "cherryq_tasks_deduplicated_total{stage=\"trainer\"} 2.0";
            String metrics = FleetHarness.awaitMetrics(host, duplicates);
            assertTrue(metrics.contains(duplicates), metrics);
        }
    }

    @Test
    void shouldRefuseATaskAboveTheWorkersMemoryBudgetNamingTheNeedAndTheBudget() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            harness.start("trainer", List.of(StageVerticle.of(TrainerHandler::new)),
                    Map.of("CHERRYQ_MEMORY_BUDGET", "100"));
            QuantizationRequest request = StageFixtures.request("job-budget");
            PreparedData data = StageFixtures.prepare(harness, "job-budget");
            harness.send(Topics.TRAIN_TASKS, "job-budget", TrainTask.newBuilder().setJobId("job-budget")
                    .setRequest(request).setData(data).setSegment(0).setSegmentCount(2).setFromStep(0).setToStep(2)
                    .build());
            dev.cherryq.proto.v1.JobEvent failed = harness.await(Topics.JOB_EVENTS,
                    dev.cherryq.proto.v1.JobEvent.parser(), events -> events.stream().anyMatch(
                            event -> event.getState() == dev.cherryq.proto.v1.JobState.JOB_STATE_FAILED)).stream()
                    .filter(event -> event.getState() == dev.cherryq.proto.v1.JobState.JOB_STATE_FAILED).findFirst()
                    .orElseThrow();
            String message = failed.getError().getMessage();
            assertEquals("RESOURCE_EXHAUSTED", failed.getError().getCode(), message);
            long need;
            try (LlamaCheckpoint demo = LlamaCheckpoint.open(FleetHarness.demoModel())) {
                need = dev.cherryq.core.qat.MemoryEstimate.mebibytes(dev.cherryq.core.qat.MemoryEstimate.endToEndTask(
                        demo.config(), request.getQat().getBatchSize(), request.getSeqLen(), true));
            }
            assertTrue(message.contains(String.format(java.util.Locale.ROOT, "needs about %,d MiB", need))
                    && message.contains("CHERRYQ_MEMORY_BUDGET of 100 MiB"), message);
            assertTrue(harness.readAll(Topics.EVAL_TASKS, EvalTask.parser()).isEmpty(), "nothing was trained");
        }
    }
}
