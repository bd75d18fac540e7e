package dev.cherryq.fleet.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.proto.v1.Criterion;
import dev.cherryq.proto.v1.Method;
import org.junit.jupiter.api.Test;

/** Every value of the recipe's enums has its own proto value and comes back unchanged: none is added on one side only. */
class RecipeProtoTest {

    @Test
    void shouldMapEveryRecipeEnumValueToItsOwnProtoValueAndBack() {
        for (QuantScheme scheme : QuantScheme.values()) {
            dev.cherryq.proto.v1.QuantScheme wire = RecipeProto.scheme(scheme);
            assertNotEquals(dev.cherryq.proto.v1.QuantScheme.QUANT_SCHEME_UNSPECIFIED, wire, scheme.cliName());
            assertEquals(scheme, RecipeProto.scheme(wire), scheme.cliName());
        }
        assertEquals(QuantScheme.values().length + 2, dev.cherryq.proto.v1.QuantScheme.values().length,
                "the proto's schemes are the recipe's plus UNSPECIFIED and UNRECOGNIZED");
        for (QuantMethod method : QuantMethod.values()) {
            Method wire = RecipeProto.method(method);
            assertNotEquals(Method.METHOD_UNSPECIFIED, wire, method.name());
            assertEquals(method, RecipeProto.method(wire), method.name());
        }
        for (SelectionCriterion criterion : SelectionCriterion.values()) {
            Criterion wire = RecipeProto.criterion(criterion);
            assertNotEquals(Criterion.CRITERION_UNSPECIFIED, wire, criterion.name());
            assertEquals(criterion, RecipeProto.criterion(wire), criterion.name());
        }
        for (TrainingMode mode : TrainingMode.values()) {
            dev.cherryq.proto.v1.TrainingMode wire = RecipeProto.mode(mode);
            assertNotEquals(dev.cherryq.proto.v1.TrainingMode.TRAINING_MODE_UNSPECIFIED, wire, mode.name());
            assertEquals(mode, RecipeProto.mode(wire), mode.name());
        }
        assertEquals(TrainingMode.values().length + 2, dev.cherryq.proto.v1.TrainingMode.values().length);
    }
}
