package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.util.JsonFormat;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.config.JobLimits;
import dev.cherryq.fleet.job.JobIds;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.job.ResultsTable;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Publisher;
import dev.cherryq.gateway.JobRequestJson;
import dev.cherryq.gateway.JobStatusFold;
import dev.cherryq.launcher.Json;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq publish}: a quantization request event produced straight to the requests topic, with no gateway in
 * between, for pipelines that speak Kafka. The job id is derived as the gateway derives it ({@link JobIds}), so the
 * same request published twice under one key is one job. The request is checked here with the gateway's rules (and
 * the default work limits) before anything is sent; the planner checks it again with the fleet's. {@code --follow}
 * reads the job's events from Kafka alone: progress, then the results table from the COMPLETED event.
 */
@Command(name = "publish", mixinStandardHelpOptions = true,
        description = {"Publishes a quantization request (JSON, as for submit) straight to Kafka and prints the job id;",
                "--follow reads the job's events from Kafka and prints progress, then the results table.",
                "Kafka security settings pass through as CHERRYQ_KAFKA_PROPERTY_* (docs/EVENTS.md)."})
final class PublishCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    JobCommands.Submit.Body body;

    @Option(names = "--bootstrap", description = "Kafka bootstrap servers (default: $CHERRYQ_KAFKA_BOOTSTRAP_SERVERS)")
    String bootstrap;

    @Option(names = "--idempotency-key", description = "publishing the same request with the same key is one job")
    String idempotencyKey;

    @Option(names = "--follow", description = "follow the job's events until it ends and print its results")
    boolean follow;

    @Option(names = "--follow-minutes", defaultValue = "120",
            description = "longest wait for the job to end with --follow (default: ${DEFAULT-VALUE})")
    int followMinutes;

    @Override
    public Integer call() throws Exception {
        String json = body.json != null ? body.json : InputFiles.readText(body.file);
        QuantizationRequest parsed = JobRequestJson.parse(json, "pending");
        RequestSettings.validate(parsed, JobLimits.DEFAULTS);
        QuantizationRequest request = JobIds.assign(parsed, idempotencyKey);
        KafkaClients clients = new KafkaClients(clientConfig(bootstrap));
        try (Publisher publisher = new Publisher(clients.producer("cherryq-publish"))) {
            publisher.send(JobEvents.submission(request));
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println(request.getJobId());
        out.flush();
        return follow ? follow(clients, request, Duration.ofMinutes(followMinutes), out) : 0;
    }

    /**
     * The job's status folded from its events on the job-events topic (read from the beginning, so a job that has
     * already ended is shown too) until it is final; then its results table, or its error.
     */
    static int follow(KafkaClients clients, QuantizationRequest request, Duration timeout, PrintWriter out)
            throws Exception {
        String jobId = request.getJobId();
        JobProgressView view = new JobProgressView(System.err);
        JobStatus status = null;
        try (KafkaConsumer<String, byte[]> consumer = clients.consumer(null, "cherryq-publish-follow")) {
            KafkaClients.assignFromBeginning(consumer, Topics.JOB_EVENTS);
            long deadline = System.nanoTime() + timeout.toNanos();
            while ((status == null || !JobStatusFold.isFinal(status.getState())) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (jobId.equals(record.key())) {
                        status = JobStatusFold.apply(status, JobEvent.parseFrom(record.value()));
                        view.show(json(status));
                    }
                }
            }
        }
        view.finish();
        if (status == null) {
            throw new InvalidInputException("no event of job " + jobId + " within " + timeout.toMinutes() + " min");
        }
        int code = JobCommands.Watch.outcome(json(status), jobId, out, "cherryq publish ... --follow (the same "
                + "request and key)");
        if (code == 0) {
            out.println();
            out.print(ResultsTable.markdown(ResultsTable.rows(request, status.getResult())));
            out.flush();
        }
        return code;
    }

    private static JsonNode json(JobStatus status) throws Exception {
        return Json.MAPPER.readTree(JsonFormat.printer().preservingProtoFieldNames().print(status));
    }

    /**
     * A fleet configuration for a Kafka client: the environment's Kafka settings (CHERRYQ_KAFKA_PROPERTY_* for
     * SASL/TLS), the bootstrap servers given, and no store (a client never reads it).
     */
    static FleetConfig clientConfig(String bootstrap) {
        Map<String, String> environment = new HashMap<>();
        System.getenv().forEach((name, value) -> {
            if (name.startsWith(FleetConfig.KAFKA_PROPERTY_PREFIX) || name.equals(FleetConfig.BOOTSTRAP_SERVERS.name())) {
                environment.put(name, value);
            }
        });
        if (bootstrap != null) {
            environment.put(FleetConfig.BOOTSTRAP_SERVERS.name(), bootstrap);
        }
        if (!environment.containsKey(FleetConfig.BOOTSTRAP_SERVERS.name())) {
            throw new InvalidInputException("--bootstrap: no Kafka bootstrap servers (give --bootstrap HOST:PORT or set "
                    + FleetConfig.BOOTSTRAP_SERVERS.name() + ")");
        }
        // never opened: a client only talks to Kafka
        environment.put(FleetConfig.STORE_DIR.name(), System.getProperty("java.io.tmpdir") + "/cherryq-no-store");
        return FleetConfig.from(environment);
    }
}
