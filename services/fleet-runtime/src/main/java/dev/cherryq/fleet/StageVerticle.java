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
 * undeploy, after the handler's one-time warm-up. The stage's compute runs on the process's compute executor, never
 * on the event loop.
 */
public final class StageVerticle<T extends Message> extends VerticleBase implements Readiness {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StageVerticle.class);

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

    /** Warms the handler up on its executor ({@link StageHandler#warmUp}), then starts the consumer. */
    @Override
    public Future<?> start() {
        var executor = handler.usesCompute() ? fleet.compute() : fleet.bookkeeping();
        return Future.fromCompletionStage(executor.submit(() -> {
            long started = System.nanoTime();
            try {
                handler.warmUp();
            } catch (Exception e) {
                LOG.warn("{}: warm-up failed ({}); starting without it", handler.binding().stage(), e.toString());
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            if (seconds > 0.05) {
                LOG.info("{}: warmed up in {} s", handler.binding().stage(), String.format("%.2f", seconds));
            }
            return null;
        })).map(ignored -> {
            consumer = new StageConsumer<>(handler, fleet.clients(), fleet.publisher(), executor, fleet.metrics(),
                    fleet.config().maxMessageBytes(), fleet.config().taskMaxAttempts(),
                    fleet.processName() + "-" + handler.binding().stage().name().toLowerCase());
            consumer.start();
            return null;
        });
    }

    @Override
    public Future<?> stop() {
        return vertx.executeBlocking(() -> {
            if (consumer != null) {
                consumer.close();
            }
            return null;
        });
    }
}
