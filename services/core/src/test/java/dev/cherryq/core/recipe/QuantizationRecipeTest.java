package dev.cherryq.core.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.selection.SelectionCriterion;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuantizationRecipeTest {

    private static final QuantizationRecipe DEFAULTS = QuantizationRecipe.DEFAULTS;

    @Test
    void shouldAcceptItsOwnDefaults() {
        assertEquals(List.of(), DEFAULTS.problems());
        assertSame(DEFAULTS, DEFAULTS.validate());
    }

    @Test
    void shouldNameEveryInvalidFieldAtOnce() {
        QuantizationRecipe bad = new QuantizationRecipe(QuantMethod.CHERRYQ, InitMethod.GPTQ, 9, 0, null, null, 0.75, 0,
                new QuantizationRecipe.Training(0, 0, 0, Float.POSITIVE_INFINITY, 1.5, -0.1, Float.NaN, 0f, null, -1, 0f,
                        null, null, -1, Float.NaN), 1, 0, 1.0, false);
        List<String> fields = bad.problems().stream().map(RecipeProblem::field).toList();
        assertEquals(List.of("bits", "group_size", "scheme", "criterion", "cherry_fraction", "calibration_samples",
                "steps", "batch_size", "grad_accum", "lr", "warmup_fraction", "floor_fraction", "weight_decay",
                "gradient_clip", "loss", "validation_windows", "cherry_lr_scale", "trainable", "training", "e2e_steps", "e2e_lr", "seq_len",
                "gptq_dampening"), fields);
        String message = assertThrows(InvalidInputException.class, bad::validate).getMessage();
        assertTrue(message.startsWith("invalid recipe: bits: 9 is out of range 2..8; "), message);
    }

    @Test
    void shouldCheckOnlyWhatTheMethodUses() {
        QuantizationRecipe rtn = DEFAULTS.withMethod(QuantMethod.RTN).withCriterion(null).withCalibrationSamples(0)
                .withTraining(DEFAULTS.training().withSteps(0));
        assertEquals(List.of(), rtn.problems(), "rtn neither trains, scores nor selects");
        assertFalse(rtn.needsCalibration());
        QuantizationRecipe gptq = rtn.withMethod(QuantMethod.GPTQ);
        assertEquals(List.of("calibration_samples"), gptq.problems().stream().map(RecipeProblem::field).toList());
        assertTrue(DEFAULTS.withMethod(QuantMethod.QAT).withInit(InitMethod.GPTQ).usesGptq());
        assertFalse(DEFAULTS.withCriterion(SelectionCriterion.RANDOM).scores());
        assertTrue(DEFAULTS.withCriterion(SelectionCriterion.RANDOM).selects());
    }

    @Test
    void shouldResolveTheWindowAndTheFloorFromTheModelAndTheBits() {
        LlamaConfig config = RandomLlama.tinyConfig(false); // 64 positions
        assertEquals(64, DEFAULTS.sequenceLength(config), "min(512, max positions)");
        assertEquals(32, DEFAULTS.withSequenceLength(32).sequenceLength(config));
        assertEquals(0.25, DEFAULTS.withBits(3).floorFraction(), "the paper's floor at 3 bits");
        assertEquals(0.1, DEFAULTS.withBits(4).floorFraction(), "and above");
        assertEquals(0.5, DEFAULTS.withTraining(new QuantizationRecipe.Training(10, 1, 1, 1e-4f, 0, 0.5, 0f, 1f,
                TrainingLoss.CROSS_ENTROPY, 0, 1f, TrainableParameters.ALL, TrainingMode.END_TO_END, 0, 1e-3f))
                .floorFraction(), "an explicit floor wins");
        var settings = DEFAULTS.qatSettings(48, 7);
        assertEquals(48, settings.sequenceLength());
        assertEquals(DEFAULTS.training().learningRate(), settings.learningRate());
        assertEquals(7, settings.checkpointEvery());
        var departures = DEFAULTS.withTraining(DEFAULTS.training().withCherryLearningRateScale(5f)
                .withTrainable(TrainableParameters.LINEAR)).qatSettings(48, 0);
        assertEquals(5f, departures.cherryLearningRateScale());
        assertEquals(TrainableParameters.LINEAR, departures.trainable());
    }
}
