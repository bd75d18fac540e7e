package dev.cherryq.fleet;

import dev.cherryq.core.DjlRuntime;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.metrics.FleetMetrics;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.storage.ObjectStores;
import dev.cherryq.fleet.storage.ReferenceResolver;
import dev.cherryq.fleet.task.ComputeExecutor;
import dev.cherryq.fleet.task.Publisher;
import io.vertx.core.Future;
import io.vertx.core.Deployable;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fleet process: builds the shared pieces from a validated {@link FleetConfig}, deploys the given stage
 * verticles, and serves {@code /metrics}, {@code /health} and {@code /ready} (plus any routes the verticles add,
 * such as the gateway's API) on one HTTP port. {@code cherryq serve <stage>} runs one stage per process; the
 * embedded {@code cherryq run} runs them all in one.
 */
public final class ServiceHost implements AutoCloseable {

    /** Prometheus exposition of the service's metrics. */
    public static final String METRICS_PATH = "/metrics";
    /** Liveness: 200 while the process serves HTTP. */
    public static final String HEALTH_PATH = "/health";
    /** Readiness: 200 once every consumer holds its assignment (and the gateway its status table), else 503. */
    public static final String READY_PATH = "/ready";

    private static final Logger LOG = LoggerFactory.getLogger(ServiceHost.class);

    private final FleetContext context;
    private final List<WorkerExecutor> executors;
    private final List<Deployable> verticles = new ArrayList<>();
    private HttpServer server;

    private ServiceHost(FleetContext context, List<WorkerExecutor> executors) {
        this.context = context;
        this.executors = executors;
    }

    /**
     * Starts a process with the verticles the factories build. Blocks until every verticle is deployed and the HTTP
     * server listens; throws (and releases everything) on the first failure.
     */
    public static ServiceHost start(FleetConfig config, Map<String, String> environment, String processName,
            List<Function<FleetContext, Deployable>> factories) throws Exception {
        DjlRuntime.ensureOffline();
        LOG.info("{}: starting with\n{}", processName, config.describe(environment));
        Files.createDirectories(config.workDirectory());
        KafkaClients clients = new KafkaClients(config);
        if (config.createTopics()) {
            clients.ensureTopics(Topics.ALL);
        }
        Vertx vertx = Vertx.vertx();
        ObjectStore store;
        try {
            store = ObjectStores.open(config);
        } catch (IOException | RuntimeException e) {
            vertx.close();
            throw e;
        }
        WorkerExecutor compute = vertx.createSharedWorkerExecutor("cherryq-compute", 1, 7, TimeUnit.DAYS);
        WorkerExecutor bookkeeping = vertx.createSharedWorkerExecutor("cherryq-bookkeeping", 4, 1, TimeUnit.HOURS);
        FleetMetrics metrics = new FleetMetrics();
        Router router = Router.router(vertx);
        FleetContext context = new FleetContext(config, vertx, router, store, new ReferenceResolver(config, store),
                clients, new Publisher(clients.producer(processName)), executor(compute), executor(bookkeeping), metrics,
                processName);
        ServiceHost host = new ServiceHost(context, List.of(compute, bookkeeping));
        try {
            host.deployAndListen(factories);
        } catch (Exception e) {
            host.close();
            throw e;
        }
        LOG.info("{}: ready; store {}; Kafka {}; http://{}:{}/metrics", processName, store.describe(),
                config.bootstrapServers(), config.httpHost(), host.port());
        return host;
    }

    private static ComputeExecutor executor(WorkerExecutor workers) {
        return new ComputeExecutor() {
            @Override
            public <T> CompletableFuture<T> submit(Callable<T> work) {
                return workers.executeBlocking(work, false).toCompletionStage().toCompletableFuture();
            }
        };
    }

    private void deployAndListen(List<Function<FleetContext, Deployable>> factories) throws Exception {
        Router router = context.router();
        router.get(METRICS_PATH).handler(request -> request.response()
                .putHeader("content-type", FleetMetrics.contentType()).end(io.vertx.core.buffer.Buffer.buffer(
                        context.metrics().scrape())));
        router.get(HEALTH_PATH).handler(request -> request.response().putHeader("content-type", "application/json")
                .end("{\"status\":\"UP\"}"));
        router.get(READY_PATH).handler(request -> {
            boolean ready = verticles.stream().allMatch(v -> !(v instanceof Readiness r) || r.isReady());
            request.response().setStatusCode(ready ? 200 : 503).putHeader("content-type", "application/json")
                    .end(ready ? "{\"status\":\"READY\"}" : "{\"status\":\"STARTING\"}");
        });
        for (Function<FleetContext, Deployable> factory : factories) {
            Deployable verticle = factory.apply(context);
            verticles.add(verticle);
            await(context.vertx().deployVerticle(verticle));
        }
        server = await(context.vertx().createHttpServer().requestHandler(router)
                .listen(context.config().httpPort(), context.config().httpHost()));
    }

    private static <T> T await(Future<T> future) throws Exception {
        try {
            return future.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    public FleetContext context() {
        return context;
    }

    public int port() {
        return server == null ? -1 : server.actualPort();
    }

    public boolean isReady() {
        return verticles.stream().allMatch(v -> !(v instanceof Readiness r) || r.isReady());
    }

    /**
     * Waits until every consumer holds its assignment (and the gateway's status table has caught up); returns this
     * host. Throws {@link IllegalStateException} naming the host after {@code timeout}.
     */
    public ServiceHost awaitReady(java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!isReady()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(context.processName() + " was not ready within " + timeout.toSeconds() + " s");
            }
            Thread.sleep(20);
        }
        return this;
    }

    /** Stops the verticles (consumers first), then the HTTP server, Kafka producer, store and Vert.x. */
    @Override
    public void close() {
        try {
            await(context.vertx().close());
        } catch (Exception e) {
            LOG.warn("{}: Vert.x did not close cleanly: {}", context.processName(), e.toString());
        }
        executors.forEach(WorkerExecutor::close);
        context.publisher().close();
        context.store().close();
    }
}
