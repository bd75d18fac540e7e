package dev.cherryq.fleet.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.QuantMethod;
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
    }
}
