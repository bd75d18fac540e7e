package dev.cherryq.fleet;

import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.metrics.FleetMetrics;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.storage.ReferenceResolver;
import dev.cherryq.fleet.task.ComputeExecutor;
import dev.cherryq.fleet.task.Publisher;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import java.nio.file.Path;

/**
 * What a process gives its stages: config, store, Kafka clients, the compute thread (one per process: DJL allows one
 * GradientCollector per JVM), a small pool for bookkeeping work, metrics, and the HTTP router.
 */
public record FleetContext(FleetConfig config, Vertx vertx, Router router, ObjectStore store,
        ReferenceResolver resolver, KafkaClients clients, Publisher publisher, ComputeExecutor compute,
        ComputeExecutor bookkeeping,
        FleetMetrics metrics, String processName) {

    /** A scratch folder for one job and stage, under the work directory. */
    public Path scratch(String jobId, String stage) {
        return config.workDirectory().resolve("jobs").resolve(jobId).resolve(stage);
    }

    /** Where fetched objects are cached. */
    public Path downloads() {
        return config.workDirectory().resolve("downloads");
    }
}
