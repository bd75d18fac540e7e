package dev.cherryq.it.support;

import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.fleet.storage.ObjectStores;
import dev.cherryq.gateway.GatewayMain;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.launcher.WorkerProcess;
import dev.cherryq.planner.PlannerMain;
import io.vertx.core.Deployable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;

/**
 * One test class's fleet on the run's infrastructure: the S3 store (bucket {@value #BUCKET}, a prefix per class),
 * the gateway and the planner in this JVM, and stage workers either in this JVM or as separate worker processes
 * ({@link ItWorkerMain}, started and awaited by the launcher's {@link WorkerProcess}) that a test can kill. Every
 * address is 127.0.0.1; every wait is bounded.
 */
public final class ItFleet implements AutoCloseable {

    public static final String BUCKET = "cherryq-it";
    /** Where requests' s3:// inputs live: never the store's own bucket, which the fleet refuses as an input. */
    public static final String INPUT_BUCKET = "cherryq-it-inputs";
    public static final String TOKEN = "it-gateway-token-5f2e9a";

    private final Infrastructure infrastructure;
    private final Path directory;
    private final Map<String, String> environment = new HashMap<>();
    private final List<ServiceHost> hosts = new ArrayList<>();
    private final List<WorkerProcess> workers = new ArrayList<>();
    private int workerCount;

    public ItFleet(Infrastructure infrastructure, Path directory, String name) throws IOException {
        this.infrastructure = infrastructure;
        this.directory = directory;
        Files.createDirectories(directory.resolve("logs"));
        Files.createDirectories(markers());
        environment.put(FleetConfig.BOOTSTRAP_SERVERS.name(), infrastructure.kafka().bootstrapServers());
        environment.put(FleetConfig.STORE.name(), "s3");
        environment.put(FleetConfig.S3_BUCKET.name(), BUCKET);
        environment.put(FleetConfig.S3_ENDPOINT.name(), infrastructure.s3().endpoint().toString());
        environment.put(FleetConfig.S3_PATH_STYLE.name(), "true");
        environment.put(FleetConfig.S3_ACCESS_KEY_ID.name(), infrastructure.s3().accessKey());
        environment.put(FleetConfig.S3_SECRET_ACCESS_KEY.name(), infrastructure.s3().secretKey());
        environment.put(FleetConfig.S3_PREFIX.name(), name + "/");
        environment.put(FleetConfig.ALLOWED_BUCKETS.name(), INPUT_BUCKET);
        environment.put(FleetConfig.MODEL_ROOTS.name(), models().toString());
        environment.put(FleetConfig.DATA_ROOTS.name(), Files.createDirectories(data()).toString());
        environment.put(FleetConfig.HTTP_HOST.name(), "127.0.0.1");
        environment.put(FleetConfig.HTTP_PORT.name(), "0");
        environment.put(FleetConfig.GATEWAY_TOKEN.name(), TOKEN);
        try (S3Client s3 = s3Client()) {
            for (String bucket : List.of(BUCKET, INPUT_BUCKET)) {
                try {
                    s3.createBucket(request -> request.bucket(bucket));
                } catch (BucketAlreadyOwnedByYouException e) {
                    // another class made it
                } catch (software.amazon.awssdk.services.s3.model.S3Exception e) {
                    if (e.statusCode() != 409) {
                        throw e;
                    }
                }
            }
        }
    }

    /** The repository's models folder (surefire and failsafe set cherryq.home): the committed demo model lives there. */
    public static Path models() {
        return Path.of(System.getProperty("cherryq.home", "..")).toAbsolutePath().normalize().resolve("models");
    }

    public Path data() {
        return directory.resolve("data");
    }

    public Path markers() {
        return directory.resolve("markers");
    }

    public Path logs() {
        return directory.resolve("logs");
    }

    public Map<String, String> environment() {
        return environment;
    }

    public FleetConfig config() {
        return FleetConfig.from(environment);
    }

    public Infrastructure infrastructure() {
        return infrastructure;
    }

    public S3Client s3Client() {
        return S3Client.builder().endpointOverride(infrastructure.s3().endpoint()).region(Region.US_EAST_1)
                .forcePathStyle(true).credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                        infrastructure.s3().accessKey(), infrastructure.s3().secretKey()))).build();
    }

    /** The fleet's object store, as the stages see it. */
    public ObjectStore store() throws IOException {
        return ObjectStores.open(config());
    }

    /** Starts verticles in this JVM (the gateway, or every stage) with this fleet's settings; waits until ready. */
    public ServiceHost startInJvm(String name, List<Function<FleetContext, Deployable>> verticles,
            Map<String, String> overrides) throws Exception {
        Map<String, String> hostEnvironment = new HashMap<>(environment);
        hostEnvironment.putAll(overrides);
        hostEnvironment.put(FleetConfig.WORK_DIR.name(), directory.resolve("work-" + name).toString());
        ServiceHost host = ServiceHost.start(FleetConfig.from(hostEnvironment), hostEnvironment, name, verticles);
        hosts.add(host);
        return host.awaitReady(dev.cherryq.fleet.testing.FleetHarness.WAIT);
    }

    /** The gateway and a planner in this JVM; the other stages are worker processes. */
    public ServiceHost startGatewayAndPlanner() throws Exception {
        List<Function<FleetContext, Deployable>> verticles = new ArrayList<>(GatewayMain.verticles());
        verticles.addAll(PlannerMain.verticles());
        return startInJvm("gateway", verticles, Map.of());
    }

    /** The gateway, the planner and every stage in this JVM (the embedded mode's set), with {@code overrides}. */
    public ServiceHost startAllInJvm(Map<String, String> overrides) throws Exception {
        List<Function<FleetContext, Deployable>> all = new ArrayList<>(GatewayMain.verticles());
        all.addAll(PlannerMain.verticles());
        all.addAll(ItWorkerMain.verticles("stages", markers()));
        return startInJvm("fleet", all, overrides);
    }

    /** The planner and every stage in this JVM, and no gateway: a fleet that only Kafka producers reach. */
    public ServiceHost startWithoutGateway() throws Exception {
        List<Function<FleetContext, Deployable>> all = new ArrayList<>();
        all.addAll(PlannerMain.verticles());
        all.addAll(ItWorkerMain.verticles("stages", markers()));
        return startInJvm("no-gateway", all, Map.of());
    }

    /**
     * Starts a stage worker ({@link ItWorkerMain}; "stages" runs the four task stages, scorer to evaluator) as a
     * separate JVM, ready.
     */
    public WorkerProcess startWorker(String stage) throws Exception {
        return startProcess(stage, ItWorkerMain.class.getName(), List.of(stage), Map.of());
    }

    /**
     * Starts a fleet process as a separate JVM on this JVM's class path, with this fleet's settings plus
     * {@code overrides}, its own work folder and a log file; waits until it serves /ready.
     */
    public WorkerProcess startProcess(String stage, String mainClass, List<String> args, Map<String, String> overrides)
            throws Exception {
        String name = stage + "-" + (++workerCount);
        Map<String, String> settings = new HashMap<>(environment);
        settings.putAll(overrides);
        WorkerProcess worker = WorkerProcess.start(new WorkerProcess.Launch(name, mainClass, args, List.of("-Xmx1g",
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-D" + ItWorkerMain.MARKERS_PROPERTY + "="
                + markers(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dorg.slf4j.simpleLogger.log.dev.cherryq=info"), settings, directory.resolve("work-" + name), logs()));
        workers.add(worker);
        return worker.awaitReady(Duration.ofSeconds(120));
    }

    public List<WorkerProcess> workers() {
        return List.copyOf(workers);
    }

    /** Arms the fault point of a stage: its next task whose text contains {@code match} holds for {@code hold}. */
    public void arm(String stage, Duration hold, String match) throws IOException {
        Files.deleteIfExists(markers().resolve(stage + ".started"));
        Files.deleteIfExists(markers().resolve(stage + ".handled"));
        Files.writeString(markers().resolve("arm-" + stage), hold.toMillis() + (match.isEmpty() ? "" : " " + match));
    }

    /** The pid a worker wrote into a marker, once the marker exists (bounded wait). */
    public long awaitMarker(String stage, String kind, Duration timeout) throws Exception {
        Path marker = markers().resolve(stage + "." + kind);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(marker)) {
                String text = Files.readString(marker).trim();
                if (!text.isEmpty()) {
                    return Long.parseLong(text);
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no " + stage + "." + kind + " marker within " + timeout);
    }

    public boolean markerExists(String stage, String kind) {
        return Files.exists(markers().resolve(stage + "." + kind));
    }

    /** SIGKILL: no shutdown hook, no consumer leave, no commit. Returns the killed worker. */
    public WorkerProcess kill(long pid) throws InterruptedException {
        WorkerProcess victim = workers.stream().filter(w -> w.pid() == pid).findFirst()
                .orElseThrow(() -> new AssertionError("pid " + pid + " is not one of this fleet's workers"));
        victim.kill();
        workers.remove(victim);
        return victim;
    }

    @Override
    public void close() {
        for (WorkerProcess worker : workers) {
            worker.stop(Duration.ofSeconds(20));
        }
        for (ServiceHost host : hosts) {
            host.close();
        }
    }
}
