package dev.cherryq.it.infra;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension: hands test classes the run's {@link Infrastructure} (a {@code static} {@code @BeforeAll}
 * parameter), starting it on first use and closing it when the whole run ends.
 */
public final class FleetInfrastructure implements ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(FleetInfrastructure.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == Infrastructure.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE).getOrComputeIfAbsent("infrastructure", key -> {
            try {
                return new Resource(Infrastructure.start());
            } catch (Exception e) {
                throw new ParameterResolutionException("could not start the integration-test infrastructure: " + e, e);
            }
        }, Resource.class).infrastructure();
    }

    /** Closed by JUnit when the root context (the run) closes. */
    private record Resource(Infrastructure infrastructure) implements ExtensionContext.Store.CloseableResource {
        @Override
        public void close() {
            infrastructure.close();
        }
    }
}
