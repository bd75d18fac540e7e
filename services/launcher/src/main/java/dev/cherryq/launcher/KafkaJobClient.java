package dev.cherryq.launcher;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.fleet.task.Publisher;
import dev.cherryq.gateway.JobStatusFold;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * A fleet's Kafka topics from Java, with no gateway in between: a request's submission event published to the requests
 * topic, and a job's status folded from its events on the job-events topic. {@code cherryq publish} talks to a fleet
 * through it, as the job commands do through {@link GatewayClient}.
 */
public final class KafkaJobClient {

    private final KafkaClients clients;

    /** A client of the Kafka cluster at {@code bootstrap}, or at $CHERRYQ_KAFKA_BOOTSTRAP_SERVERS when it is null. */
    public KafkaJobClient(String bootstrap) {
        this.clients = new KafkaClients(clientConfig(bootstrap));
    }

    /** The request's submission event, sent and acknowledged. */
    public void publish(QuantizationRequest request) throws InterruptedException, ExecutionException {
        try (Publisher publisher = new Publisher(clients.producer("cherryq-publish"))) {
            publisher.send(JobEvents.submission(request));
        }
    }

    /**
     * The job's status folded from its events (read from the beginning, so a job that has already ended is found too)
     * until it is final or {@code timeout} has passed, each new status given to {@code update}; null when no event of
     * the job came.
     */
    public JobStatus follow(String jobId, Duration timeout, Consumer<JobStatus> update)
            throws InvalidProtocolBufferException {
        JobStatus status = null;
        try (KafkaConsumer<String, byte[]> consumer = clients.consumer(null, "cherryq-publish-follow")) {
            KafkaClients.assignFromBeginning(consumer, Topics.JOB_EVENTS);
            long deadline = System.nanoTime() + timeout.toNanos();
            while ((status == null || !JobStatusFold.isFinal(status.getState())) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (jobId.equals(record.key())) {
                        status = JobStatusFold.apply(status, JobEvent.parseFrom(record.value()));
                        update.accept(status);
                    }
                }
            }
        }
        return status;
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
