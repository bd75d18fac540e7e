package dev.cherryq.gateway;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.proto.v1.JobStatus;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The compacted job-status topic read whole into memory, and kept up to date: what {@code GET /v1/jobs/{id}} and the
 * watch stream answer from. Every gateway replica reads all partitions (no consumer group), so any replica can
 * answer for any job. Ready once it has caught up with the topic's end at start-up.
 */
public final class JobStatusTable implements Runnable, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(JobStatusTable.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<String, JobStatus> statuses = new ConcurrentHashMap<>();
    private final List<Consumer<JobStatus>> listeners = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean caughtUp;

    public JobStatusTable(KafkaClients clients, String clientId) {
        this.consumer = clients.consumer(null, clientId);
        this.thread = new Thread(this, "cherryq-job-status-table");
    }

    public void start() {
        thread.start();
    }

    public boolean isReady() {
        return caughtUp && thread.isAlive();
    }

    public Optional<JobStatus> get(String jobId) {
        return Optional.ofNullable(statuses.get(jobId));
    }

    public Map<String, JobStatus> all() {
        return Map.copyOf(statuses);
    }

    /** Called with every status update (on the table's thread); keep it short. */
    public void addListener(Consumer<JobStatus> listener) {
        listeners.add(listener);
    }

    public void removeListener(Consumer<JobStatus> listener) {
        listeners.remove(listener);
    }

    @Override
    public void run() {
        try {
            while (running) {
                try {
                    readWholeTopicAndFollow();
                } catch (WakeupException e) {
                    throw e;
                } catch (RuntimeException e) {
                    // a broker restart or a topic not yet visible: read again from the beginning (idempotent)
                    LOG.warn("job status table: {}; reading the topic again in 1 s", e.toString());
                    sleep(1000);
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            KafkaClients.close(consumer);
        }
    }

    private void readWholeTopicAndFollow() {
        List<TopicPartition> partitions = List.of();
        while (running && partitions.isEmpty()) { // a just-created topic's metadata may lag
            partitions = consumer.partitionsFor(Topics.JOB_STATUS.name(), Duration.ofSeconds(30)).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            if (partitions.isEmpty()) {
                sleep(200);
            }
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(30));
        while (running) {
            for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                apply(record);
            }
            if (!caughtUp && partitions.stream().allMatch(p -> consumer.position(p) >= ends.getOrDefault(p, 0L))) {
                caughtUp = true;
                LOG.info("job status table loaded: {} jobs", statuses.size());
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WakeupException();
        }
    }

    private void apply(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            statuses.remove(record.key());
            return;
        }
        try {
            JobStatus status = JobStatus.parseFrom(record.value());
            statuses.put(status.getJobId(), status);
            listeners.forEach(listener -> listener.accept(status));
        } catch (InvalidProtocolBufferException e) {
            LOG.warn("job status record {}@{} unreadable: {}", record.partition(), record.offset(), e.getMessage());
        }
    }

    @Override
    public void close() {
        running = false;
        KafkaClients.stopPolling(consumer, thread);
    }
}
