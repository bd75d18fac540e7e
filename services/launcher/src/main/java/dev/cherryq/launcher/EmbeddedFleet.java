package dev.cherryq.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.config.LocalFleetSettings;
import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A fleet on this machine: a real Kafka broker (KRaft) in this JVM, the filesystem store, and one {@link ServiceHost}
 * with the verticles of a stage set ({@code all}: the gateway and every stage, as {@code cherryq run} has it;
 * {@code gateway}: the gateway alone, for a fleet of worker processes), all under one root folder
 * ({@code root/kafka}, {@code root/store}, {@code root/work}, {@code root/logs}). Stage workers started through it
 * are separate JVMs on the same broker and store; closing it stops them, then the host, then the broker.
 */
public final class EmbeddedFleet implements AutoCloseable {

    /** How long a worker process may take to stop cleanly before it is killed. */
    private static final Duration WORKER_GRACE = Duration.ofSeconds(15);

    private final Path root;
    private final EmbeddedKafkaBroker broker;
    private final Map<String, String> settings;
    private final ServiceHost host;
    private final List<WorkerProcess> workers = new CopyOnWriteArrayList<>();
    /** Ctrl-C ends the worker processes too. */
    private final Thread stopWorkersOnExit;

    private EmbeddedFleet(Path root, EmbeddedKafkaBroker broker, Map<String, String> settings, ServiceHost host) {
        this.root = root;
        this.broker = broker;
        this.settings = settings;
        this.host = host;
        this.stopWorkersOnExit = new Thread(() -> workers.forEach(worker -> worker.process().destroy()),
                "cherryq-stop-workers");
        Runtime.getRuntime().addShutdownHook(stopWorkersOnExit);
    }

    /**
     * Starts the broker and the host; the host is not ready yet ({@link #awaitReady}), so worker processes can start
     * meanwhile.
     *
     * @param processName the host's name in logs and metrics
     * @param stages a stage set of {@link FleetStages}
     * @param model a model requests may read: its folder is the model root
     * @param texts texts requests may read: their folders are the data roots
     * @param overrides settings beside {@link LocalFleetSettings}'s
     */
    public static EmbeddedFleet start(String processName, String stages, Path root, Path model, Collection<Path> texts,
            Map<String, String> overrides) throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(root.resolve("kafka"), 0);
        try {
            Map<String, String> settings = LocalFleetSettings.of(broker.bootstrapServers(), root, model.getParent(),
                    texts.stream().map(Path::getParent).toList());
            settings.putAll(overrides);
            Map<String, String> environment = inheritedEnvironment();
            environment.putAll(settings);
            ServiceHost host = ServiceHost.start(FleetConfig.from(environment), environment, processName,
                    FleetStages.verticles(stages));
            return new EmbeddedFleet(root, broker, settings, host);
        } catch (Exception | Error e) {
            broker.close();
            throw e;
        }
    }

    /** The process's environment without its {@code CHERRYQ_*} variables: the fleet's settings replace them. */
    private static Map<String, String> inheritedEnvironment() {
        Map<String, String> environment = new HashMap<>();
        System.getenv().forEach((name, value) -> {
            if (!name.startsWith("CHERRYQ_")) {
                environment.put(name, value);
            }
        });
        return environment;
    }

    /** Waits until the host's consumers hold their assignments and the gateway's table has caught up. */
    public EmbeddedFleet awaitReady(Duration timeout) throws InterruptedException {
        host.awaitReady(timeout);
        return this;
    }

    /** Starts a stage worker {@code <stage>-<index>} as a separate JVM on this fleet ({@link WorkerProcess}). */
    public WorkerProcess startWorker(String stage, int index) throws IOException {
        WorkerProcess worker = WorkerProcess.startStage(stage, index, settings, root);
        workers.add(worker);
        return worker;
    }

    public List<WorkerProcess> workers() {
        return List.copyOf(workers);
    }

    /** The fleet's settings ({@code CHERRYQ_*} keys), for clients and worker processes. */
    public Map<String, String> settings() {
        return Map.copyOf(settings);
    }

    public FleetConfig config() {
        return FleetConfig.from(settings);
    }

    public String bootstrapServers() {
        return broker.bootstrapServers();
    }

    public ServiceHost host() {
        return host;
    }

    public Path store() {
        return root.resolve("store");
    }

    public Path logs() {
        return root.resolve("logs");
    }

    /** The host's gateway, without a token (a local fleet has none). */
    public GatewayClient client() {
        return new GatewayClient("http://127.0.0.1:" + host.port(), null);
    }

    /**
     * Submits each job, follows each to its end, and returns their reports in order; a job that did not complete
     * fails with its last status.
     */
    public List<JsonNode> complete(List<FleetJob> jobs) throws IOException, InterruptedException {
        GatewayClient client = client();
        List<String> ids = new ArrayList<>();
        for (FleetJob job : jobs) {
            ids.add(client.submit(job.requestJson(), null).path("job_id").asText());
        }
        List<JsonNode> reports = new ArrayList<>();
        for (String id : ids) {
            JsonNode end = client.watch(id, status -> { });
            if (end == null || !end.path("state").asText().equals("JOB_STATE_COMPLETED")) {
                throw new IllegalStateException("job " + id + " did not complete: " + end);
            }
            reports.add(client.report(id));
        }
        return reports;
    }

    /** Stops the worker processes (SIGTERM, SIGKILL after 15 s), then the host, then the broker. */
    @Override
    public void close() {
        workers.forEach(worker -> worker.stop(WORKER_GRACE));
        try {
            host.close();
        } finally {
            broker.close();
            try {
                Runtime.getRuntime().removeShutdownHook(stopWorkersOnExit);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }
}
