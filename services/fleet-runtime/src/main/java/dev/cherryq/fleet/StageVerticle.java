package dev.cherryq.fleet;

import com.google.protobuf.Message;
import dev.cherryq.fleet.task.StageConsumer;
import dev.cherryq.fleet.task.StageHandler;
import io.vertx.core.Future;
import io.vertx.core.Deployable;
import io.vertx.core.VerticleBase;
import java.util.function.Function;

/**
 * One stage's consumer as a Vert.x verticle: it starts the consume-process-commit loop on deploy and stops it on
 * undeploy. The stage's compute runs on the process's compute executor, never on the event loop.
 */
public final class StageVerticle<T extends Message> extends VerticleBase implements Readiness {

    private final FleetContext fleet;
    private final StageHandler<T> handler;
    private StageConsumer<T> consumer;

    public StageVerticle(FleetContext fleet, StageHandler<T> handler) {
        this.fleet = fleet;
        this.handler = handler;
    }

    /** A factory for {@link ServiceHost}: the verticle of the handler built from the process's context. */
    public static <T extends Message> Function<FleetContext, Deployable> of(Function<FleetContext, StageHandler<T>> handler) {
        return fleet -> new StageVerticle<>(fleet, handler.apply(fleet));
    }

    @Override
    public boolean isReady() {
        return consumer != null && consumer.isReady();
    }

    @Override
    public Future<?> start() {
        consumer = new StageConsumer<>(handler, fleet.clients(), fleet.publisher(),
                handler.usesCompute() ? fleet.compute() : fleet.bookkeeping(), fleet.metrics(),
                fleet.config().maxMessageBytes(), fleet.config().taskMaxAttempts(),
                fleet.processName() + "-" + handler.binding().stage().name().toLowerCase());
        consumer.start();
        return Future.succeededFuture();
    }

    @Override
    public Future<?> stop() {
        return vertx.executeBlocking(() -> {
            consumer.close();
            return null;
        });
    }
}
