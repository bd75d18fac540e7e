package dev.cherryq.core.recipe;

import dev.cherryq.core.InvalidInputException;

import static org.junit.jupiter.api.Assertions.assertThrows;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.cherryq.core.Progress;
import dev.cherryq.core.TestFixtures;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.scoring.CalibrationSamples;
import dev.cherryq.core.selection.CherrySet;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CherryqPipelineTest {

    static {
        TestFixtures.sharedDir(); // offline DJL before the engine loads
    }

    private static final LlamaConfig CONFIG = RandomLlama.tinyConfig(false);
    private static final int[] TOKENS = new Random(8).ints(3000, 0, CONFIG.vocabSize()).toArray();
    private static final QuantizationRecipe RECIPE = QuantizationRecipe.DEFAULTS.withMethod(QuantMethod.QAT)
            .withInit(InitMethod.GPTQ).withGroupSize(8).withCalibrationSamples(4).withSequenceLength(16)
            .withTraining(new QuantizationRecipe.Training(4, 2, 1, 1e-3f, 0.05, 0, 0f, 1f, TrainingLoss.CROSS_ENTROPY, 0,
                    1f, TrainableParameters.ALL, TrainingMode.END_TO_END, 0, 1e-3f));

    @TempDir
    Path directory;

    private static LlamaModel fresh() {
        return LlamaModel.fromTensors(CONFIG, RandomLlama.tensors(CONFIG, RandomLlama.weights(CONFIG, 6)));
    }

    @Test
    void shouldResumeTrainingFromGptqInSegmentsToTheWeightsOfOneRun() {
        CalibrationSamples samples = CherryqPipeline.calibrationSamples(RECIPE, TOKENS, 16, false);
        float[] uninterrupted;
        String weight = "model.layers.0.self_attn.q_proj.weight";
        try (LlamaModel model = fresh()) {
            CherryqPipeline.Start start = CherryqPipeline.start(model, RECIPE, samples, CherrySet.empty(), false,
                    Progress.NONE);
            assertNotNull(start.gptq(), "GPTQ ran");
            CherryqPipeline.train(model, null, start, RECIPE, CherrySet.empty(), TOKENS, null, 0, 4, Progress.NONE);
            uninterrupted = model.parameters().get(weight).toFloatArray();
        }
        Path checkpoints = directory.resolve("checkpoint");
        try (LlamaModel first = fresh()) { // segment 1: GPTQ, then steps 0-1
            CherryqPipeline.Start start = CherryqPipeline.start(first, RECIPE, samples, CherrySet.empty(), false,
                    Progress.NONE);
            CherryqPipeline.train(first, null, start, RECIPE, CherrySet.empty(), TOKENS, checkpoints, 0, 2,
                    Progress.NONE);
        }
        try (LlamaModel second = fresh()) { // segment 2: the source loaded again, GPTQ not rerun, steps 2-3
            CherryqPipeline.Start start = CherryqPipeline.start(second, RECIPE, samples, CherrySet.empty(), true,
                    Progress.NONE);
            assertNull(start.gptq(), "a resumed run takes GPTQ's result from its checkpoint");
            var result = CherryqPipeline.train(second, null, start, RECIPE, CherrySet.empty(), TOKENS, checkpoints, 0,
                    4, Progress.NONE);
            assertEquals(2, result.startedAtStep(), "the checkpoint of the GPTQ start was recognised");
            // one PyTorch thread in tests: the segmented run ends bit for bit where the uninterrupted one ends
            assertArrayEquals(uninterrupted, second.parameters().get(weight).toFloatArray(), 0f);
        }
    }

    @Test
    void shouldHoldOutTheLastWindowsOfTheTrainingTextFromTrainingAndFromCalibrationOnTheSameText() {
        QuantizationRecipe validated = RECIPE.withTraining(RECIPE.training().withValidationWindows(5));
        CherryqPipeline.Split split = CherryqPipeline.split(validated, TOKENS, 16);
        assertEquals(3000 - 5 * 16, split.train().length);
        assertEquals(5, split.validation().count());
        assertArrayEquals(java.util.Arrays.copyOfRange(TOKENS, 3000 - 80, 3000), split.validation().tokens());
        assertNull(CherryqPipeline.split(RECIPE, TOKENS, 16).validation(), "0 windows: no validation");
        assertNull(CherryqPipeline.split(validated.withMethod(QuantMethod.GPTQ), TOKENS, 16).validation(),
                "a method that does not train holds nothing out");
        // calibration on the training text draws only from the trained part: as if that part were the whole text
        CalibrationSamples shared = CherryqPipeline.calibrationSamples(validated.withCalibrationSamples(64), TOKENS,
                16, true);
        CalibrationSamples trainedPart = new CalibrationSamples(split.train(), 64, 16, validated.seed());
        for (int i = 0; i < 64; i++) {
            assertArrayEquals(trainedPart.sample(i), shared.sample(i));
        }
        assertThrows(InvalidInputException.class, () -> CherryqPipeline.split(
                validated.withTraining(validated.training().withValidationWindows(187)), TOKENS, 16),
                "3000 tokens hold 187 windows of 16 but leave fewer than one to train on");
    }
}
