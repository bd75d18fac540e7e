package dev.cherryq.cli.commands;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingLoss;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.fleet.job.RecipeProto;
import dev.cherryq.gateway.JobRequestJson;
import dev.cherryq.launcher.DemoInputs;
import dev.cherryq.launcher.DemoJob;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * One concept, one place: the command line, the JSON request and the proto message all map to core's
 * {@link QuantizationRecipe}, agree on every default, and lose nothing on the way through.
 */
class RecipeDefaultsTest {

    /** A recipe with every field away from its default. */
    private static final QuantizationRecipe CHANGED = new QuantizationRecipe(QuantMethod.QAT, InitMethod.GPTQ, 4, 64,
            QuantScheme.ASYM, SelectionCriterion.MAGNITUDE, 0.03, 17,
            new QuantizationRecipe.Training(123, 3, 2, 3.5e-5f, 0.1, 0.2, 0.01f, 0.5f, TrainingLoss.CROSS_ENTROPY, 5, 4f,
                    TrainableParameters.LINEAR, TrainingMode.BLOCKWISE, 37, 4.5e-3f), 96, 7, 0.05, true);

    @Test
    void shouldGiveTheCommandLineTheRecipeDefaults() {
        QuantizeCommand quantize = new QuantizeCommand();
        new CommandLine(quantize).parseArgs("--model", "m", "--out", "o", "--bits", "3");
        assertEquals(QuantizationRecipe.DEFAULTS, quantize.recipe());
        RunCommand run = new RunCommand();
        new CommandLine(run).parseArgs();
        assertEquals(DemoJob.RECIPE, run.recipe());
        // what the benchmarks run as "cherryq run with its defaults" is what the command submits
        DemoInputs inputs = new DemoInputs(Path.of("models/demo"), Path.of("data/heldout.txt"), Path.of("data/train.txt"));
        assertEquals(DemoJob.fleetJobs(inputs), run.jobs(run.recipe(), run.compared(), inputs));
    }

    @Test
    void shouldGiveTheJsonRequestAndTheProtoTheRecipeDefaults() {
        QuantizationRequest request = JobRequestJson.parse("{\"model\": \"m\", \"eval_data\": \"e\"}", "job");
        assertEquals(QuantizationRecipe.DEFAULTS, RecipeProto.toRecipe(request));
    }

    @Test
    void shouldReadProtoFieldsLeftUnsetAsTheRecipeDefaults() {
        QuantizationRequest full = RecipeProto.apply(QuantizationRecipe.DEFAULTS, QuantizationRequest.newBuilder())
                .build();
        // a producer that leaves out the fields whose proto3 zero means "unset"
        QuantizationRequest sparse = full.toBuilder().clearInit().clearGptqDampening()
                .setQat(full.getQat().toBuilder().clearLoss().clearValidationWindows()
                .clearCherryLrScale().clearTrainable().clearMode().clearE2ELr()).build();
        assertEquals(QuantizationRecipe.DEFAULTS, RecipeProto.toRecipe(sparse));
    }

    @Test
    void shouldCarryEveryFieldThroughTheProtoTheJsonAndTheCommandLine() {
        for (QuantizationRecipe recipe : new QuantizationRecipe[] {QuantizationRecipe.DEFAULTS, CHANGED}) {
            QuantizationRequest proto = RecipeProto.apply(recipe, QuantizationRequest.newBuilder()).build();
            assertEquals(recipe, RecipeProto.toRecipe(proto), "proto");
            ObjectNode body = JobRequestJson.recipeFields(recipe).put("model", "m").put("eval_data", "e");
            assertEquals(recipe, RecipeProto.toRecipe(JobRequestJson.parse(body.toString(), "job")), "JSON");
        }
        QuantizeCommand quantize = new QuantizeCommand();
        new CommandLine(quantize).parseArgs("--model", "m", "--out", "o", "--method", "qat", "--init", "gptq",
                "--bits", "4", "--group-size", "64", "--scheme", "asym", "--criterion", "magnitude",
                "--cherry-fraction", "0.03", "--calib-samples", "17", "--steps", "123", "--batch-size", "3",
                "--grad-accum", "2", "--lr", "3.5e-5", "--warmup-fraction", "0.1", "--floor-fraction", "0.2",
                "--weight-decay", "0.01", "--gradient-clip", "0.5", "--loss", "ce", "--validation-windows", "5",
                "--cherry-lr-scale", "4", "--trainable", "linear", "--training", "blockwise", "--e2e-steps", "37", "--e2e-lr", "4.5e-3",
                "--seq-len", "96", "--seed", "7",
                "--gptq-dampening", "0.05", "--gptq-act-order");
        assertEquals(CHANGED, quantize.recipe(), "command line");
    }

    @Test
    void shouldMapEveryRecipeFieldToAFlagAndAJsonField() throws IllegalAccessException {
        Set<String> fields = new TreeSet<>();
        for (Field constant : QuantizationRecipe.class.getFields()) {
            if (Modifier.isStatic(constant.getModifiers()) && constant.getType() == String.class) {
                fields.add((String) constant.get(null));
            }
        }
        // every recipe component has a field name (Training's components count for one component)
        assertEquals(QuantizationRecipe.class.getRecordComponents().length - 1
                + QuantizationRecipe.Training.class.getRecordComponents().length, fields.size(), fields.toString());
        assertEquals(fields, new TreeSet<>(RecipeOptions.FLAGS.keySet()));
        assertTrue(JobRequestJson.FIELDS.keySet().containsAll(fields),
                "JSON lacks " + fields.stream().filter(f -> !JobRequestJson.FIELDS.containsKey(f))
                        .collect(Collectors.joining(", ")));
    }

    @Test
    void shouldNameFlagsOnTheCommandLineAndFieldsInRequests() {
        QuantizeCommand quantize = new QuantizeCommand();
        new CommandLine(quantize).parseArgs("--model", "m", "--out", "o", "--bits", "9", "--lr", "-1");
        String cli = assertThrows(InvalidInputException.class, () -> quantize.recipe()).getMessage();
        assertTrue(cli.contains("--bits 9 is out of range 2..8") && cli.contains("--lr -1.0 must be positive"), cli);
        QuantizationRecipe bad = QuantizationRecipe.DEFAULTS.withBits(9)
                .withTraining(QuantizationRecipe.DEFAULTS.training().withLearningRate(Float.NaN));
        String fleet = assertThrows(InvalidInputException.class, bad::validate).getMessage();
        assertTrue(fleet.contains("bits: 9 is out of range 2..8") && fleet.contains("lr: NaN must be positive"), fleet);
        assertTrue(Arrays.stream(fleet.split(";")).noneMatch(part -> part.contains("--")), fleet);
    }
}
