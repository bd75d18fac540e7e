package dev.cherryq.fleet.task;

import dev.cherryq.fleet.kafka.Topics;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Publishes task outputs and waits until the broker has them (acks=all): when {@link #send} returns, the messages
 * are durable and the consumer may commit. Thread-safe (the Kafka producer is).
 */
public final class Publisher implements AutoCloseable {

    private final KafkaProducer<String, byte[]> producer;
    private final Map<String, Integer> partitionCounts = new ConcurrentHashMap<>();

    public Publisher(KafkaProducer<String, byte[]> producer) {
        this.producer = producer;
    }

    public void send(List<Outgoing> messages) throws InterruptedException, ExecutionException {
        List<Future<RecordMetadata>> pending = new java.util.ArrayList<>();
        for (Outgoing message : messages) {
            Integer partition = null;
            if (message.spreadIndex() != null) {
                int count = partitionCount(message.topic().name());
                partition = count > 0 ? Outgoing.partition(message.spreadIndex(), count) : null; // unknown: by key
            }
            RecordHeaders headers = new RecordHeaders();
            headers.add(Topics.HEADER_TYPE, message.message().getDescriptorForType().getFullName()
                    .getBytes(StandardCharsets.UTF_8));
            pending.add(producer.send(new ProducerRecord<>(message.topic().name(), partition, message.key(),
                    message.message().toByteArray(), headers)));
        }
        for (Future<RecordMetadata> future : pending) {
            future.get();
        }
    }

    private int partitionCount(String topic) {
        Integer known = partitionCounts.get(topic);
        if (known != null) {
            return known;
        }
        int count = producer.partitionsFor(topic).size();
        if (count > 0) {
            partitionCounts.put(topic, count);
        }
        return count;
    }

    /** Sends raw bytes with headers (dead letters) and waits. */
    public void sendRaw(String topic, String key, byte[] value, RecordHeaders headers)
            throws InterruptedException, ExecutionException {
        producer.send(new ProducerRecord<>(topic, null, key, value, headers)).get();
    }

    @Override
    public void close() {
        producer.close(java.time.Duration.ofSeconds(5));
    }
}
