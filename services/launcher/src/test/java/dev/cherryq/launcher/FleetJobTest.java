package dev.cherryq.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.fleet.job.RecipeProto;
import dev.cherryq.gateway.JobRequestJson;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A fleet job's request, read back by the gateway's own parser, is the job: its recipe, inputs and fleet settings. */
class FleetJobTest {

    private static final QuantizationRecipe RECIPE = QuantizationRecipe.DEFAULTS.withBits(2).withGroupSize(32)
            .withSeed(7).withTraining(QuantizationRecipe.DEFAULTS.training().withSteps(12));

    private static FleetJob job(List<String> baselines) {
        return new FleetJob(RECIPE, Path.of("/m/demo"), Path.of("/d/calibration.txt"), Path.of("/d/train.txt"),
                Path.of("/d/heldout.txt"), 3, 5, 9, baselines);
    }

    @Test
    void shouldCarryTheRecipeInputsAndFleetSettingsToTheGateway() {
        QuantizationRequest request = JobRequestJson.parse(job(List.of("fp", "none")).requestJson(), "job");
        assertEquals(RECIPE, RecipeProto.toRecipe(request));
        assertEquals("/m/demo", request.getModel().getUri());
        assertEquals("/d/calibration.txt", request.getCalibrationDataUri());
        assertEquals("/d/train.txt", request.getTrainDataUri());
        assertEquals("/d/heldout.txt", request.getEval().getDataUri());
        assertEquals(List.of("fp"), request.getEval().getBaselinesList());
        assertEquals(3, request.getCalibrationShards());
        assertEquals(5, request.getQat().getSegmentSteps());
        assertEquals(9, request.getEval().getWindowsPerShard());
    }

    @Test
    void shouldCompareEachOtherMethodOnceWithoutBaselineRows() {
        List<FleetJob> jobs = job(List.of("fp", "rtn")).withComparisons(List.of(QuantMethod.GPTQ, QuantMethod.CHERRYQ,
                QuantMethod.GPTQ, QuantMethod.QAT));
        assertEquals(List.of(QuantMethod.CHERRYQ, QuantMethod.GPTQ, QuantMethod.QAT),
                jobs.stream().map(job -> job.recipe().method()).toList());
        assertEquals(List.of("fp", "rtn"), jobs.get(0).baselines());
        assertEquals(List.of(), jobs.get(2).baselines());
        assertEquals(RECIPE.withMethod(QuantMethod.QAT), jobs.get(2).recipe());
    }
}
