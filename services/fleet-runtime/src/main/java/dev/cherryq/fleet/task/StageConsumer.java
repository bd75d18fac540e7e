package dev.cherryq.fleet.task;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.Message;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.metrics.FleetMetrics;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.proto.v1.ErrorRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consume-process-commit loop of one stage, on its own thread (the Kafka consumer is not thread-safe). One task
 * at a time: when a record arrives the consumer pauses its partitions, the stage's compute runs on the
 * {@link ComputeExecutor}, and the loop keeps polling (returning nothing while paused) so the worker stays in its
 * group however long the task takes. When the task's outputs are durable and its messages acknowledged, the offset
 * is committed and the partitions resume. A crash before the commit means the record is redelivered, to this
 * worker or another; stages make that harmless (deterministic keys, fan-in ledgers).
 *
 * <p>Poison messages (too large, wrong type header, unparseable, unknown enum values, no valid job id) go to the
 * dead-letter topic with error headers and are committed: one bad record never stops a consumer. Fatal task errors
 * fail the job (a FAILED job event); retriable ones are retried with backoff up to the configured attempts.
 */
public final class StageConsumer<T extends Message> implements Runnable, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StageConsumer.class);
    private static final Duration POLL = Duration.ofMillis(200);

    private final StageHandler<T> handler;
    private final StageBinding<T> binding;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Publisher publisher;
    private final ComputeExecutor compute;
    private final FleetMetrics metrics;
    private final int maxMessageBytes;
    private final int maxAttempts;
    private final String stageLabel;
    private volatile boolean running = true;
    private volatile boolean assigned;
    private final Thread thread;
    private long lagCheckedAt;

    public StageConsumer(StageHandler<T> handler, KafkaClients clients, Publisher publisher, ComputeExecutor compute,
            FleetMetrics metrics, int maxMessageBytes, int maxAttempts, String clientId) {
        this.handler = handler;
        this.binding = handler.binding();
        this.consumer = clients.consumer(binding.input().consumerGroup(), clientId);
        this.publisher = publisher;
        this.compute = compute;
        this.metrics = metrics;
        this.maxMessageBytes = maxMessageBytes;
        this.maxAttempts = maxAttempts;
        this.stageLabel = ObjectKeys.stageName(binding.stage());
        this.thread = new Thread(this, "cherryq-" + stageLabel + "-consumer");
    }

    public void start() {
        thread.start();
    }

    /** True once the consumer has joined its group and holds an assignment (possibly empty) — for /ready. */
    public boolean isReady() {
        return assigned && running && thread.isAlive();
    }

    @Override
    public void run() {
        LOG.info("{}: consuming {} as group {}", stageLabel, binding.input().name(), binding.input().consumerGroup());
        try {
            consumer.subscribe(List.of(binding.input().name()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    LOG.info("{}: partitions revoked {}", stageLabel, partitions);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    assigned = true;
                    LOG.info("{}: partitions assigned {}", stageLabel, partitions);
                }
            });
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(POLL);
                updateLag();
                if (records.isEmpty()) {
                    NativeHeap.trimIfIdle(); // nothing to do: hand the finished tasks' C heap back to the OS
                }
                for (ConsumerRecord<String, byte[]> record : records) {
                    if (!running) {
                        break;
                    }
                    process(record);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("{}: consumer stopped: {}", stageLabel, e.toString(), e);
        } finally {
            running = false;
            KafkaClients.close(consumer);
            LOG.info("{}: consumer of {} closed", stageLabel, binding.input().name());
        }
    }

    private void process(ConsumerRecord<String, byte[]> record) {
        long started = System.nanoTime();
        metrics.tasksReceived.labelValues(stageLabel).inc();
        metrics.tasksInFlight.labelValues(stageLabel).inc();
        try {
            T message = parseOrDeadLetter(record);
            if (message == null) {
                commit(record);
                return;
            }
            String jobId = binding.jobId().apply(message);
            for (int attempt = 1; running; attempt++) {
                java.util.concurrent.atomic.AtomicLong cpuNanos = new java.util.concurrent.atomic.AtomicLong(-1);
                CompletableFuture<TaskOutcome> future = compute.submit(() -> {
                    long cpuStarted = TaskTimings.threadCpuNanos(); // on the thread that runs the handler
                    NativeHeap.taskStarted();
                    try {
                        return handler.handle(message);
                    } finally {
                        NativeHeap.taskEnded();
                        long cpuEnded = TaskTimings.threadCpuNanos();
                        cpuNanos.set(cpuStarted < 0 || cpuEnded < 0 ? -1 : cpuEnded - cpuStarted);
                    }
                });
                TaskOutcome outcome;
                try {
                    outcome = awaitWhilePolling(future);
                    if (outcome == null) {
                        return; // shutting down: not committed, so redelivered
                    }
                    publisher.send(withTaskEvent(outcome, jobId, record, started, cpuNanos.get()));
                    afterPublish(outcome, jobId);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (ExecutionException | RuntimeException e) {
                    Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                    ErrorRecord error = ErrorClassifier.classify(cause, binding.stage()).toBuilder()
                            .setTopic(record.topic()).setPartition(record.partition()).setOffset(record.offset())
                            .setAttempts(attempt).build();
                    if (error.getRetriable() && attempt < maxAttempts) {
                        metrics.tasksRetried.labelValues(stageLabel).inc();
                        long backoffMs = Math.min(30_000L, 1000L << Math.min(attempt - 1, 5));
                        LOG.warn("{} job {}: attempt {}/{} failed ({}: {}); retrying in {} ms", stageLabel, jobId,
                                attempt, maxAttempts, error.getCode(), error.getMessage(), backoffMs);
                        pauseFor(backoffMs);
                        continue;
                    }
                    failJob(record, jobId, error);
                    commit(record);
                    return;
                }
                commit(record);
                metrics.tasksCompleted.labelValues(stageLabel).inc();
                if (outcome.deduplicated()) {
                    metrics.tasksDeduplicated.labelValues(stageLabel).inc();
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                metrics.taskDuration.labelValues(stageLabel).observe(seconds);
                if (outcome.tokens() > 0) {
                    metrics.tokens.labelValues(stageLabel).inc(outcome.tokens());
                    metrics.tokensPerSecond.labelValues(stageLabel).set(outcome.tokens() / Math.max(seconds, 1e-9));
                }
                LOG.info("{} job {}: task done in {} s{}", stageLabel, jobId, String.format("%.2f", seconds),
                        outcome.deduplicated() ? " (duplicate: output existed)" : "");
                return;
            }
        } finally {
            metrics.tasksInFlight.labelValues(stageLabel).dec();
        }
    }

    /**
     * The outcome's messages after this task's own event (who ran it, how long, the process's memory), which goes
     * first: a job's COMPLETED event ends its status, and later events of the job are not folded.
     */
    private List<Outgoing> withTaskEvent(TaskOutcome outcome, String jobId, ConsumerRecord<String, byte[]> record,
            long started, long cpuNanos) {
        if (!handler.reportsTasks()) {
            return outcome.outgoing();
        }
        List<Outgoing> messages = new ArrayList<>(outcome.outgoing().size() + 1);
        messages.add(JobEvents.task(jobId, binding.stage(), record.topic() + "/" + record.partition() + "@"
                + record.offset(), (System.nanoTime() - started) / 1e9, cpuNanos, outcome.deduplicated()));
        messages.addAll(outcome.outgoing());
        return messages;
    }

    /**
     * Runs the outcome's after-publish step. Its failure is logged, not retried: the messages are out, and a marker
     * that was not written only means a later duplicate is handled again, as if there were no marker.
     */
    private void afterPublish(TaskOutcome outcome, String jobId) {
        try {
            outcome.afterPublish().run();
        } catch (Exception e) {
            LOG.warn("{} job {}: outputs published, but the step after publishing failed ({}); a duplicate of this "
                    + "record would be handled again", stageLabel, jobId, e.toString());
        }
    }

    /**
     * A record in the proto3 JSON mapping (unknown fields refused). A message whose {@code job_id} is left out takes
     * the record's key, so a JSON producer names its job once.
     */
    @SuppressWarnings("unchecked")
    private T parseJson(byte[] value, String key) throws InvalidProtocolBufferException {
        com.google.protobuf.Message.Builder builder = binding.parser().parseFrom(new byte[0]).newBuilderForType();
        JsonFormat.parser().merge(new String(value, StandardCharsets.UTF_8), builder);
        var jobIdField = builder.getDescriptorForType().findFieldByName("job_id");
        if (jobIdField != null && key != null && ((String) builder.getField(jobIdField)).isEmpty()) {
            builder.setField(jobIdField, key);
        }
        return (T) builder.build();
    }

    /** Parses the record, or dead-letters it and returns null. */
    private T parseOrDeadLetter(ConsumerRecord<String, byte[]> record) {
        byte[] value = record.value();
        if (value == null || value.length > maxMessageBytes) {
            deadLetter(record, FatalTaskException.TOO_LARGE, value == null ? "empty record"
                    : "record of " + value.length + " bytes exceeds the limit of " + maxMessageBytes, null);
            return null;
        }
        Header type = record.headers().lastHeader(Topics.HEADER_TYPE);
        Header contentType = record.headers().lastHeader(Topics.HEADER_CONTENT_TYPE);
        boolean json = contentType != null && new String(contentType.value(), StandardCharsets.UTF_8).trim()
                .toLowerCase(java.util.Locale.ROOT).startsWith(Topics.JSON);
        T message;
        try {
            message = json ? parseJson(value, record.key()) : binding.parser().parseFrom(value);
        } catch (InvalidProtocolBufferException e) {
            deadLetter(record, FatalTaskException.INVALID_MESSAGE, "not a valid " + (json ? "proto3 JSON" : "protobuf")
                    + " message: " + e.getMessage(), e);
            return null;
        }
        String expected = message.getDescriptorForType().getFullName();
        if (type != null && !expected.equals(new String(type.value(), StandardCharsets.UTF_8))) {
            deadLetter(record, FatalTaskException.WRONG_TYPE, "message type " + new String(type.value(),
                    StandardCharsets.UTF_8) + " on " + record.topic() + ", which carries " + expected, null);
            return null;
        }
        String unknownEnum = MessageChecks.unknownEnumValue(message);
        if (unknownEnum != null) {
            deadLetter(record, FatalTaskException.INVALID_MESSAGE, "unknown enum value " + unknownEnum, null);
            return null;
        }
        if (!ObjectKeys.isValidJobId(binding.jobId().apply(message))) {
            deadLetter(record, FatalTaskException.INVALID_MESSAGE, "no valid job id in the " + expected + " message",
                    null);
            return null;
        }
        return message;
    }

    private void failJob(ConsumerRecord<String, byte[]> record, String jobId, ErrorRecord error) {
        metrics.tasksFailed.labelValues(stageLabel, error.getCode()).inc();
        LOG.error("{} job {}: failed for good ({}): {}", stageLabel, jobId, error.getCode(), error.getMessage());
        ErrorRecord finalError = error.getRetriable()
                ? error.toBuilder().setCode(FatalTaskException.RETRIES_EXHAUSTED).setMessage(error.getAttempts()
                        + " attempts failed; last: " + error.getCode() + ": " + error.getMessage()).build()
                : error;
        if (error.getRetriable() || handler.deadLettersFailures()) {
            deadLetter(record, finalError.getCode(), finalError.getMessage(), null, false);
        }
        publishUntilDone(List.of(JobEvents.failed(jobId, finalError)));
    }

    private void deadLetter(ConsumerRecord<String, byte[]> record, String code, String reason, Throwable cause) {
        deadLetter(record, code, reason, cause, true);
    }

    /** @param countFailure count a failed task too (false when the caller, failing the job, has counted it) */
    private void deadLetter(ConsumerRecord<String, byte[]> record, String code, String reason, Throwable cause,
            boolean countFailure) {
        metrics.deadLetters.labelValues(stageLabel, code).inc();
        if (countFailure) {
            metrics.tasksFailed.labelValues(stageLabel, code).inc();
        }
        LOG.warn("{}: dead-lettering {}-{}@{}: {}: {}", stageLabel, record.topic(), record.partition(), record.offset(),
                code, reason);
        RecordHeaders headers = new RecordHeaders();
        record.headers().forEach(headers::add);
        headers.add(Topics.HEADER_ERROR_CODE, bytes(code));
        headers.add(Topics.HEADER_ERROR_MESSAGE, bytes(reason));
        headers.add(Topics.HEADER_ERROR_CLASS, bytes(cause == null ? "" : cause.getClass().getName()));
        headers.add(Topics.HEADER_SOURCE_TOPIC, bytes(record.topic()));
        headers.add(Topics.HEADER_SOURCE_PARTITION, bytes(Integer.toString(record.partition())));
        headers.add(Topics.HEADER_SOURCE_OFFSET, bytes(Long.toString(record.offset())));
        headers.add(Topics.HEADER_STAGE, bytes(stageLabel));
        byte[] value = record.value() == null || record.value().length <= maxMessageBytes ? record.value()
                : java.util.Arrays.copyOf(record.value(), 1024); // keep the head of an oversized record
        for (int attempt = 1; running; attempt++) {
            try {
                publisher.sendRaw(Topics.DEAD_LETTERS.name(), record.key(), value, headers);
                return;
            } catch (ExecutionException | KafkaException e) {
                LOG.warn("{}: dead-letter publish failed (attempt {}): {}", stageLabel, attempt, e.toString());
                pauseFor(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void publishUntilDone(List<Outgoing> messages) {
        for (int attempt = 1; running; attempt++) {
            try {
                publisher.send(messages);
                return;
            } catch (ExecutionException | KafkaException e) {
                LOG.warn("{}: publish failed (attempt {}): {}", stageLabel, attempt, e.toString());
                pauseFor(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Waits for compute while polling paused partitions; null when the consumer is closing. It waits on the task
     * itself and polls without blocking in between, so a finished task is taken up at once (a blocking paused poll
     * here made every task, however short, last at least one poll interval: 200 ms per bookkeeping task, measured).
     */
    private TaskOutcome awaitWhilePolling(CompletableFuture<TaskOutcome> future)
            throws ExecutionException, InterruptedException {
        while (running) {
            try {
                return future.get(POLL.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException stillRunning) {
                keepAlive(Duration.ZERO);
            }
        }
        return null;
    }

    private void pauseFor(long millis) {
        long until = System.nanoTime() + millis * 1_000_000;
        while (running && System.nanoTime() < until) {
            keepAlive(POLL);
        }
    }

    /** One poll with every assigned partition paused: heartbeats and rebalances, no records. */
    private void keepAlive(Duration timeout) {
        Set<TopicPartition> assignment = consumer.assignment();
        consumer.pause(assignment);
        ConsumerRecords<String, byte[]> stray = consumer.poll(timeout);
        if (!stray.isEmpty()) {
            // newly assigned partitions delivered before the pause took effect: rewind, they come again later
            for (TopicPartition partition : stray.partitions()) {
                consumer.seek(partition, stray.records(partition).get(0).offset());
            }
        }
        updateLag();
    }

    private void commit(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        try {
            consumer.commitSync(Map.of(partition, new OffsetAndMetadata(record.offset() + 1)));
        } catch (KafkaException e) {
            LOG.warn("{}: commit of {}@{} failed ({}); the record will be redelivered and its outputs are idempotent",
                    stageLabel, partition, record.offset(), e.toString());
        } finally {
            consumer.resume(consumer.assignment());
        }
    }

    private void updateLag() {
        long now = System.nanoTime();
        if (now - lagCheckedAt < 5_000_000_000L) {
            return;
        }
        lagCheckedAt = now;
        try {
            Set<TopicPartition> assignment = consumer.assignment();
            long lag = 0;
            if (!assignment.isEmpty()) {
                Map<TopicPartition, Long> ends = consumer.endOffsets(assignment, Duration.ofSeconds(2));
                for (TopicPartition partition : assignment) {
                    lag += Math.max(0, ends.getOrDefault(partition, 0L) - consumer.position(partition,
                            Duration.ofSeconds(2)));
                }
            }
            metrics.consumerLag.labelValues(stageLabel, binding.input().name()).set(lag);
        } catch (KafkaException e) {
            LOG.debug("{}: lag not measured: {}", stageLabel, e.toString());
        }
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        running = false;
        KafkaClients.stopPolling(consumer, thread);
    }
}
