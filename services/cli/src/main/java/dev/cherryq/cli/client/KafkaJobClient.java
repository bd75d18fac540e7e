package dev.cherryq.cli.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.util.JsonFormat;
import dev.cherryq.cli.console.JobOutcome;
import dev.cherryq.cli.console.JobProgressView;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.job.ResultsTable;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Publisher;
import dev.cherryq.gateway.JobStatusFold;
import dev.cherryq.launcher.Json;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * A quantization request produced straight to the requests topic, and its job followed on the job-events topic, with
 * no gateway in between: what {@code cherryq publish} sends and reads.
 */
public final class KafkaJobClient {

    private final KafkaClients clients;

    /** A client of the Kafka cluster at {@code bootstrap}, or at $CHERRYQ_KAFKA_BOOTSTRAP_SERVERS when it is null. */
    public KafkaJobClient(String bootstrap) {
        this.clients = new KafkaClients(clientConfig(bootstrap));
    }

    /** The request's submission event, sent and acknowledged. */
    public void publish(QuantizationRequest request) throws Exception {
        try (Publisher publisher = new Publisher(clients.producer("cherryq-publish"))) {
            publisher.send(JobEvents.submission(request));
        }
    }

    /**
     * The job's status folded from its events on the job-events topic (read from the beginning, so a job that has
     * already ended is shown too) until it is final; then its results table, or its error.
     */
    public int follow(QuantizationRequest request, Duration timeout, PrintWriter out) throws Exception {
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
        int code = JobOutcome.of(json(status), jobId, out, "cherryq publish ... --follow (the same request and key)");
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
