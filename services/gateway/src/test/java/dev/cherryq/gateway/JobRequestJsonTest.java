package dev.cherryq.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.job.RecipeProto;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The gateway's JSON body: its shape checks, and what each field becomes in the request. */
class JobRequestJsonTest {

    private static final String REQUIRED = "\"model\": \"models/demo\", \"eval_data\": \"heldout.txt\"";

    private static String message(String body) {
        return assertThrows(InvalidInputException.class, () -> JobRequestJson.parse(body, "job")).getMessage();
    }

    @Test
    void shouldMapEveryFieldOfABodyIntoTheRequest() {
        QuantizationRequest request = JobRequestJson.parse("{" + REQUIRED + ", \"method\": \"qat\", \"init\": "
                + "\"gptq\", \"criterion\": \"saliency\", \"loss\": \"ce\", \"bits\": 4, \"lr\": 5e-5, \"seed\": "
                + "12345678901, \"gptq_act_order\": true, \"calibration_data\": \"calib.txt\", \"train_data\": "
                + "\"train.txt\", \"calibration_shards\": 3, \"segment_steps\": 7, \"eval_windows_per_shard\": 5, "
                + "\"eval_batch_size\": 2, \"baselines\": [\"fp\"], \"idempotency_key\": \"k-1\"}", "job-7");
        QuantizationRecipe recipe = RecipeProto.toRecipe(request);
        assertEquals(QuantMethod.QAT, recipe.method());
        assertEquals(InitMethod.GPTQ, recipe.init());
        assertEquals(SelectionCriterion.SALIENCY, recipe.criterion());
        assertEquals(TrainingLoss.CROSS_ENTROPY, recipe.training().loss());
        assertEquals(4, recipe.bits());
        assertEquals(5e-5f, recipe.training().learningRate());
        assertEquals(12345678901L, recipe.seed(), "seeds beyond 32 bits survive");
        assertTrue(recipe.gptqActOrder());
        assertEquals("job-7", request.getJobId());
        assertEquals("models/demo", request.getModel().getUri());
        assertEquals("heldout.txt", request.getEval().getDataUri());
        assertEquals("calib.txt", request.getCalibrationDataUri());
        assertEquals("train.txt", request.getTrainDataUri());
        assertEquals(3, request.getCalibrationShards());
        assertEquals(7, request.getQat().getSegmentSteps());
        assertEquals(5, request.getEval().getWindowsPerShard());
        assertEquals(2, request.getEval().getBatchSize());
        assertEquals(List.of("fp"), request.getEval().getBaselinesList());
        assertEquals("k-1", request.getIdempotencyKey());
    }

    @Test
    void shouldFillTheFleetFieldsWithTheirDefaults() {
        QuantizationRequest request = JobRequestJson.parse("{" + REQUIRED + "}", "job");
        assertEquals(JobRequestJson.DEFAULT_CALIBRATION_SHARDS, request.getCalibrationShards());
        assertEquals(JobRequestJson.DEFAULT_SEGMENT_STEPS, request.getQat().getSegmentSteps());
        assertEquals(JobRequestJson.DEFAULT_EVAL_WINDOWS_PER_SHARD, request.getEval().getWindowsPerShard());
        assertEquals(JobRequestJson.DEFAULT_EVAL_BATCH_SIZE, request.getEval().getBatchSize());
        assertEquals(List.of("fp", "rtn"), request.getEval().getBaselinesList());
        assertTrue(request.getSubmittedUnixMs() > 0);
    }

    @Test
    void shouldRefuseABodyOfTheWrongShapeNamingTheField() {
        assertTrue(message("not json").startsWith("request body is not valid JSON"));
        assertEquals("request body must be a JSON object", message("[1, 2]"));
        String unknown = message("{" + REQUIRED + ", \"learning_rate\": 1e-4}");
        assertTrue(unknown.startsWith("unknown field 'learning_rate' (known: ") && unknown.contains("lr"), unknown);
        assertEquals("field 'model' is required", message("{\"eval_data\": \"e\"}"));
        assertEquals("field 'bits' must be an integer", message("{" + REQUIRED + ", \"bits\": 3.5}"));
        assertEquals("field 'lr' must be a number", message("{" + REQUIRED + ", \"lr\": \"fast\"}"));
        assertEquals("field 'gptq_act_order' must be true or false",
                message("{" + REQUIRED + ", \"gptq_act_order\": 1}"));
        assertEquals("field 'baselines' must be an array of strings", message("{" + REQUIRED + ", \"baselines\": "
                + "[1]}"));
        assertTrue(message("{" + REQUIRED + ", \"criterion\": \"gradient\"}")
                .startsWith("criterion 'gradient' is not supported"));
        assertTrue(message("{" + REQUIRED + ", \"loss\": \"mse\"}").startsWith("loss 'mse' is not supported"));
    }

    @Test
    void shouldLeaveRangesToThePlannerSoThatTheyFailTheJobWithTheirReason() {
        // shape only here: a bits of 9 parses, and the recipe's own check names it when the planner validates
        QuantizationRequest request = JobRequestJson.parse("{" + REQUIRED + ", \"bits\": 9}", "job");
        assertEquals(List.of("bits"), RecipeProto.toRecipe(request).problems().stream()
                .map(problem -> problem.field()).toList());
    }

    @Test
    void shouldCarryTheExportAndRefuseOneThatNoFormatNamesOrNoTrainerWrites() {
        String data = ", \"calibration_data\": \"c.txt\", \"train_data\": \"t.txt\"";
        QuantizationRequest request = JobRequestJson.parse("{" + REQUIRED + data + ", \"export\": \"gguf:q4_0\"}",
                "job");
        assertEquals("gguf:q4_0", request.getExport());
        dev.cherryq.fleet.job.RequestSettings.validate(request, dev.cherryq.fleet.config.JobLimits.DEFAULTS);
        String unknown = assertThrows(InvalidInputException.class, () -> dev.cherryq.fleet.job.RequestSettings.validate(
                JobRequestJson.parse("{" + REQUIRED + data + ", \"export\": \"gguf:q5_k\"}", "job"),
                dev.cherryq.fleet.config.JobLimits.DEFAULTS)).getMessage();
        assertTrue(unknown.contains("export 'gguf:q5_k' is not supported (supported: gguf:TYPE"), unknown);
        String rtn = assertThrows(InvalidInputException.class, () -> dev.cherryq.fleet.job.RequestSettings.validate(
                JobRequestJson.parse("{" + REQUIRED + ", \"method\": \"rtn\", \"export\": \"gptq\"}", "job"),
                dev.cherryq.fleet.config.JobLimits.DEFAULTS)).getMessage();
        assertTrue(rtn.contains("export: not for method rtn"), rtn);
    }
}
