package dev.cherryq.fleet.kafka;

import dev.cherryq.fleet.config.FleetConfig;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Kafka clients configured for the fleet: idempotent producers, manual commits, pass-through security settings. */
public final class KafkaClients {

    private final FleetConfig config;

    public KafkaClients(FleetConfig config) {
        this.config = config;
    }

    private Map<String, Object> common() {
        Map<String, Object> properties = new HashMap<>(config.kafkaProperties());
        properties.put("bootstrap.servers", config.bootstrapServers());
        return properties;
    }

    /** acks=all and idempotence: an output is durable when send() returns. */
    public KafkaProducer<String, byte[]> producer(String clientId) {
        Map<String, Object> properties = common();
        properties.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        properties.put(ProducerConfig.ACKS_CONFIG, "all");
        properties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        properties.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        properties.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
        properties.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Math.max(config.maxMessageBytes(), 1 << 20) + 4096);
        return new KafkaProducer<>(properties, new StringSerializer(), new ByteArraySerializer());
    }

    /** Manual commits, one record per poll, and a poll interval long enough that a paused consumer stays a member. */
    public KafkaConsumer<String, byte[]> consumer(String groupId, String clientId) {
        Map<String, Object> properties = common();
        if (groupId != null) {
            properties.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        properties.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        properties.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        properties.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        properties.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        properties.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_000);
        properties.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, config.maxMessageBytes() * 2 + 4096);
        return new KafkaConsumer<>(properties, new StringDeserializer(), new ByteArrayDeserializer());
    }

    /**
     * Assigns every partition of {@code topic} to a group-less consumer, at the beginning: for readers of a whole topic
     * (a client following a job's events, tests). Returns the partitions.
     */
    public static List<TopicPartition> assignFromBeginning(KafkaConsumer<String, byte[]> consumer, TopicSpec topic) {
        List<TopicPartition> partitions = consumer.partitionsFor(topic.name()).stream()
                .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return partitions;
    }

    /**
     * Stops a consumer that polls on {@code thread}, whose loop has been told to end: wakes it out of its poll, then
     * waits up to 10 s for the thread to close it ({@link #close}) and end.
     */
    public static void stopPolling(KafkaConsumer<?, ?> consumer, Thread thread) {
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Closes a consumer on the thread that polls it, allowing 5 s for it to leave its group. */
    public static void close(KafkaConsumer<?, ?> consumer) {
        consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
    }

    /** Creates the fleet's topics that do not exist yet (skipped where CHERRYQ_KAFKA_CREATE_TOPICS=false). */
    public void ensureTopics(List<TopicSpec> topics) throws InterruptedException {
        try (Admin admin = Admin.create(common())) {
            for (TopicSpec topic : topics) {
                NewTopic request = new NewTopic(topic.name(), topic.partitions(), (short) -1).configs(topic.configs());
                try {
                    admin.createTopics(List.of(request)).all().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("could not create topic " + topic.name() + ": "
                                + e.getCause().getMessage(), e.getCause());
                    }
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new IllegalStateException("could not create topic " + topic.name() + " within 30 s: is Kafka "
                            + "reachable at " + config.bootstrapServers() + "?");
                }
            }
        }
    }
}
