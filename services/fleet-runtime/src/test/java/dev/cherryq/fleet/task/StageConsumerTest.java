package dev.cherryq.fleet.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The consume-process-commit loop against a real broker: poison messages, retries, fatal failures. */
class StageConsumerTest {

    static final TopicSpec INPUT = new TopicSpec("cherryq.test.tasks", "job id", "ScoreTask", 2, false, 3_600_000,
            "test", "cherryq-test-stage", "test input");

    @TempDir
    static Path directory;
    static FleetHarness harness;

    @BeforeAll
    static void startBroker() throws Exception {
        harness = new FleetHarness(directory);
        new KafkaClients(harness.config()).ensureTopics(List.of(INPUT));
    }

    @AfterAll
    static void stopBroker() {
        harness.close();
    }

    /** Succeeds on shard 0; fails once retriably then succeeds on shard 1; fails fatally on shard 2. */
    static final class ScriptedHandler implements StageHandler<ScoreTask> {
        final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();

        @Override
        public StageBinding<ScoreTask> binding() {
            return new StageBinding<>(Stage.STAGE_SCORER, INPUT, ScoreTask.parser(),
                    ScoreTask::getJobId);
        }

        @Override
        public TaskOutcome handle(ScoreTask task) throws Exception {
            int attempt = attempts.computeIfAbsent(task.getJobId(), id -> new AtomicInteger()).incrementAndGet();
            if (task.getShard() == 1 && attempt == 1) {
                throw new IOException("transient store outage");
            }
            if (task.getShard() == 2) {
                throw new InvalidInputException("bits 9 is out of range 2..8");
            }
            return TaskOutcome.of(List.of(JobEvents.progress(task.getJobId(), Stage.STAGE_SCORER,
                    JobState.JOB_STATE_SCORING, task.getShard(), 3, "ok")), 100);
        }
    }

    private static ScoreTask task(String jobId, int shard) {
        return ScoreTask.newBuilder().setJobId(jobId).setShard(shard).setShardCount(3)
                .setRequest(QuantizationRequest.newBuilder().setJobId(jobId).setBits(3)).build();
    }

    @Test
    void shouldDeadLetterPoisonRetryTransientFailuresAndFailJobsOnFatalOnesWithoutStopping() throws Exception {
        ScriptedHandler handler = new ScriptedHandler();
        ServiceHost host = harness.start("consumer-test", List.of(StageVerticle.of(fleet -> handler)),
                Map.of(FleetConfig.MAX_MESSAGE_BYTES.name(), "4096"));
        try {
            byte[] random = new byte[64];
            new Random(3).nextBytes(random);
            random[0] = (byte) 0xff; // an invalid tag: never a valid message
            byte[] valid = task("job-poison", 0).toByteArray();
            byte[] truncated = java.util.Arrays.copyOf(valid, valid.length / 2);
            RecordHeaders wrongType = new RecordHeaders();
            wrongType.add(Topics.HEADER_TYPE, "cherryq.v1.JobEvent".getBytes(StandardCharsets.UTF_8));
            ScoreTask unknownEnum = task("job-enum", 0).toBuilder()
                    .setRequest(QuantizationRequest.newBuilder().setJobId("job-enum").setMethodValue(99)).build();
            harness.sendRaw(INPUT, "random", random, new RecordHeaders());
            harness.sendRaw(INPUT, "truncated", truncated, new RecordHeaders());
            harness.sendRaw(INPUT, "wrong-type", JobEvent.newBuilder().setJobId("job-x").build().toByteArray(), wrongType);
            harness.send(INPUT, "job-enum", unknownEnum);
            harness.sendRaw(INPUT, "large", new byte[5000], new RecordHeaders());
            harness.send(INPUT, "job-ok", task("job-ok", 0));
            harness.send(INPUT, "job-retry", task("job-retry", 1));
            harness.send(INPUT, "job-fatal", task("job-fatal", 2));

            List<ConsumerRecord<String, byte[]>> dead = harness.awaitRecords(Topics.DEAD_LETTERS, r -> r.size() >= 5);
            Set<String> codes = new HashSet<>();
            for (ConsumerRecord<String, byte[]> record : dead) {
                codes.add(new String(record.headers().lastHeader(Topics.HEADER_ERROR_CODE).value(), StandardCharsets.UTF_8));
                assertEquals(INPUT.name(), new String(record.headers().lastHeader(Topics.HEADER_SOURCE_TOPIC).value(),
                        StandardCharsets.UTF_8));
                assertTrue(record.headers().lastHeader(Topics.HEADER_ERROR_MESSAGE).value().length > 0);
            }
            assertEquals(5, dead.size(), "one dead letter per poison message");
            assertEquals(Set.of(FatalTaskException.INVALID_MESSAGE, FatalTaskException.WRONG_TYPE,
                    FatalTaskException.TOO_LARGE), codes);

            // each task's own events, not only its task event (which comes first, in the same batch)
            List<JobEvent> events = harness.await(Topics.JOB_EVENTS, JobEvent.parser(), e -> e.stream()
                    .filter(event -> !event.hasTask()).map(JobEvent::getJobId)
                    .collect(java.util.stream.Collectors.toSet()).containsAll(Set.of("job-ok", "job-retry", "job-fatal")));
            JobEvent fatal = events.stream().filter(e -> e.getJobId().equals("job-fatal")).findFirst().orElseThrow();
            assertEquals(JobState.JOB_STATE_FAILED, fatal.getState());
            assertEquals(FatalTaskException.INVALID_REQUEST, fatal.getError().getCode());
            assertTrue(fatal.getError().getMessage().contains("bits 9"), fatal.getError().getMessage());
            assertEquals(2, handler.attempts.get("job-retry").get(), "retried once after the transient failure");
            assertEquals(1, handler.attempts.get("job-fatal").get(), "a fatal error is not retried");
            assertTrue(events.stream().anyMatch(e -> e.getJobId().equals("job-retry")
                    && e.getState() == JobState.JOB_STATE_SCORING));

            List<String> expected = List.of("cherryq_dead_letters_total{code=\"INVALID_MESSAGE\",stage=\"scorer\"} 3.0",
                    "cherryq_tasks_completed_total{stage=\"scorer\"} 2.0", "cherryq_tasks_retried_total{stage=\"scorer\"} 1.0",
                    "cherryq_tasks_received_total{stage=\"scorer\"} 8.0");
            String metrics = FleetHarness.awaitMetrics(host, expected.toArray(String[]::new));
            for (String sample : expected) {
                assertTrue(metrics.contains(sample), sample + " in\n" + metrics);
            }
            assertTrue(metrics.contains("jvm_memory_used_bytes"), "JVM metrics are exported");
        } finally {
            harness.stop(host);
        }
    }
}
