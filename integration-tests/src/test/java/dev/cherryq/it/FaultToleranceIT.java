package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import dev.cherryq.launcher.WorkerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Faults against a fleet of separate worker processes (scorer, selector, trainer, evaluator; the gateway in the test
 * JVM) on the run's broker and S3 store. Each fault leaves the job complete with the result of an undisturbed run:
 * the same cherry set bit for bit and the same perplexity to 1e-6 relative.
 */
@ExtendWith(FleetInfrastructure.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class FaultToleranceIT {

    private static final Logger LOG = LoggerFactory.getLogger(FaultToleranceIT.class);
    private static final Duration HOLD = Duration.ofMinutes(2);

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static GatewayApi api;
    static JobOutcome undisturbed;

    @BeforeAll
    static void startFleet(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "faults");
        JobSpecs.writeTexts(fleet.data());
        ServiceHost gateway = fleet.startGatewayAndPlanner();
        api = new GatewayApi(gateway.port(), ItFleet.TOKEN);
        for (String stage : List.of("scorer", "selector", "trainer", "evaluator")) {
            fleet.startWorker(stage);
        }
        long started = System.nanoTime();
        undisturbed = JobOutcome.of(fleet, api, api.submit(JobSpecs.cherryq("")));
        LOG.info("undisturbed job {}: mean NLL {} in {} s", undisturbed.jobId(), undisturbed.meanNll(),
                (System.nanoTime() - started) / 1e9);
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @ParameterizedTest(name = "kill -9 the {0} after it wrote its output, before it published and committed")
    @ValueSource(strings = {"scorer", "selector", "trainer", "evaluator"})
    @Order(1)
    void shouldCompleteWithTheSameResultWhenAStageWorkerIsKilledMidTask(String stage) throws Exception {
        fleet.arm(stage, HOLD, "");
        String jobId = api.submit(JobSpecs.cherryq(""));
        long pid = fleet.awaitMarker(stage, "handled", Duration.ofMinutes(3));
        WorkerProcess victim = fleet.kill(pid);
        LOG.info("killed {} (pid {}) mid-task of job {}", victim.name(), pid, jobId);
        fleet.startWorker(stage);
        JobOutcome.of(fleet, api, jobId).assertSameResultAs(undisturbed);
    }

    @Test
    @Order(2)
    void shouldResumeATrainerKilledMidSegmentFromTheLastCheckpoint() throws Exception {
        fleet.arm("trainer", Duration.ZERO, "segment: 1 ");
        String jobId = api.submit(JobSpecs.cherryq(""));
        long pid = fleet.awaitMarker("trainer", "started", Duration.ofMinutes(3));
        Thread.sleep(150); // into the segment's steps
        WorkerProcess victim = fleet.kill(pid);
        assertFalse(fleet.markerExists("trainer", "handled"),
                "the trainer must die during segment 1's compute, not after it (make the segment longer)");
        try (ObjectStore store = fleet.store()) {
            List<String> checkpoints = store.list("jobs/" + jobId + "/trainer/");
            assertEquals(List.of("jobs/" + jobId + "/trainer/checkpoint-step-000006.safetensors"), checkpoints,
                    "only segment 0's checkpoint exists when segment 1 dies");
        }
        LOG.info("killed {} (pid {}) in segment 1 of job {}", victim.name(), pid, jobId);
        WorkerProcess replacement = fleet.startWorker("trainer");
        JobOutcome.of(fleet, api, jobId).assertSameResultAs(undisturbed);
        String log = Files.readString(replacement.log());
        assertTrue(log.contains("trainer job " + jobId + ": task done"), "the replacement trained segment 1:\n" + log);
    }

    @Test
    @Order(2)
    void shouldRedoABlockWhoseTrainerWasKilledMidBlockToTheUndisturbedResult() throws Exception {
        // 36 steps a block, a checkpoint every 4: the kill lands after block 1's first checkpoint, steps before its end
        String blockwise = ",\"training\":\"blockwise\",\"steps\":36,\"segment_steps\":4";
        JobOutcome reference = JobOutcome.of(fleet, api, api.submit(JobSpecs.cherryq(blockwise)));
        fleet.arm("trainer", Duration.ZERO, "BLOCKWISE_STEP_BLOCK block: 1 ");
        String jobId = api.submit(JobSpecs.cherryq(blockwise));
        long pid = fleet.awaitMarker("trainer", "started", Duration.ofMinutes(3));
        WorkerProcess victim;
        try (ObjectStore store = fleet.store()) {
            String checkpoint = "jobs/" + jobId + "/trainer/blocks/block-0001.checkpoint.pb";
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (store.readIfExists(checkpoint).isEmpty()) { // bounded: 2 minutes
                assertTrue(System.nanoTime() < deadline, "block 1 stored no checkpoint within 2 minutes");
                Thread.sleep(10);
            }
            victim = fleet.kill(pid);
            assertFalse(fleet.markerExists("trainer", "handled"),
                    "the trainer must die while training block 1, not after it (make the job's steps more)");
            assertFalse(store.readIfExists("jobs/" + jobId + "/trainer/blocks/block-0001.pb").isPresent(),
                    "block 1 was not stored when its trainer died");
        }
        LOG.info("killed {} (pid {}) while training block 1 of job {}, after its first checkpoint", victim.name(), pid,
                jobId);
        fleet.startWorker("trainer");
        JobOutcome.of(fleet, api, jobId).assertSameResultAs(reference);
        try (ObjectStore store = fleet.store()) {
            dev.cherryq.proto.v1.BlockResult redone = dev.cherryq.proto.v1.BlockResult.parseFrom(store.readIfExists(
                    "jobs/" + jobId + "/trainer/blocks/block-0001.pb").orElseThrow());
            assertTrue(redone.getResumedFromStep() >= 4, "the replacement resumed block 1 from a stored checkpoint, "
                    + "not from its start: resumed from step " + redone.getResumedFromStep());
        }
    }

    @Test
    @Order(3)
    void shouldCompleteWithTheSameResultWhenTheBrokerRestartsMidJob() throws Exception {
        String jobId = api.submit(JobSpecs.cherryq(""));
        awaitState(jobId, "JOB_STATE_TRAINING");
        fleet.infrastructure().kafka().restart(Duration.ofSeconds(3));
        LOG.info("broker restarted during job {}", jobId);
        JobOutcome.of(fleet, api, jobId).assertSameResultAs(undisturbed);
    }

    @Test
    @Order(4)
    void shouldCompleteWithTheSameResultWhenTheStoreIsUnavailableForTenSeconds() throws Exception {
        String jobId = api.submit(JobSpecs.cherryq(""));
        awaitState(jobId, "JOB_STATE_SCORING");
        fleet.infrastructure().s3().outage(Duration.ofSeconds(10));
        LOG.info("object store was down for 10 s during job {}", jobId);
        JobOutcome.of(fleet, api, jobId).assertSameResultAs(undisturbed);
    }

    @Test
    @Order(5)
    void shouldChangeNothingWhenTheTopicsAreReplayedFromOffsetZero() throws Exception {
        String jobId = undisturbed.jobId();
        Map<String, String> before = objects(jobId);
        long completedBefore = overWorkers(COMPLETED);
        long duplicatesBefore = overWorkers(DEDUPLICATED);
        int replayed = 0;
        for (var topic : List.of(Topics.SCORE_TASKS, Topics.SCORE_RESULTS, Topics.TRAIN_TASKS, Topics.EVAL_TASKS,
                Topics.EVAL_RESULTS, Topics.SELECT_TASKS, Topics.SELECT_RESULTS)) {
            replayed += replay(topic.name(), jobId);
        }
        assertTrue(replayed >= 2 + 2 + 2 + 2 + 2, "replayed " + replayed + " records of job " + jobId);
        // every replayed record is consumed again: wait until the workers have handled every one of them (a
        // duplicate task re-emits its output; a fan-in result is recomputed from the ledger), each counted once
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        long handled = 0;
        while (System.nanoTime() < deadline && handled < replayed) {
            Thread.sleep(250);
            handled = overWorkers(COMPLETED) - completedBefore;
        }
        assertTrue(handled >= replayed, "the workers handled " + handled + " of the " + replayed + " replayed records");
        long received = overWorkers(DEDUPLICATED) - duplicatesBefore;
        Thread.sleep(2000);
        assertEquals(before, objects(jobId), "a replay writes no new object and changes none");
        JobOutcome again = JobOutcome.of(fleet, api, jobId);
        again.assertSameResultAs(undisturbed);
        LOG.info("replayed {} records of job {}; {} handled as duplicates; store unchanged", replayed, jobId, received);
    }

    private static final String COMPLETED = "cherryq_tasks_completed_total";
    private static final String DEDUPLICATED = "cherryq_tasks_deduplicated_total";

    /** A counter summed over every worker: tasks completed (duplicates included), or found already done. */
    private static long overWorkers(String counter) throws Exception {
        long sum = 0;
        for (WorkerProcess worker : fleet.workers()) {
            sum += Metrics.sum(worker.metrics(), counter);
        }
        return sum;
    }

    private static void awaitState(String jobId, String state) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            String current = api.get("/v1/jobs/" + jobId).json().path("state").asText();
            if (current.equals(state)) {
                return;
            }
            if (current.equals("JOB_STATE_COMPLETED") || current.equals("JOB_STATE_FAILED")) {
                throw new AssertionError("job " + jobId + " ended (" + current + ") before reaching " + state);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("job " + jobId + " never reached " + state);
    }

    /** Every object of a job with its sha256, as the store reports it. */
    private static Map<String, String> objects(String jobId) throws Exception {
        Map<String, String> objects = new TreeMap<>();
        try (ObjectStore store = fleet.store()) {
            for (String key : store.list("jobs/" + jobId + "/")) {
                objects.put(key, store.stat(key, ObjectStore.MEDIA_BYTES).orElseThrow().getSha256());
            }
        }
        return objects;
    }

    /** Re-publishes, at the end of the topic, every record of the job found from offset 0: a duplicate delivery. */
    private static int replay(String topic, String jobId) throws Exception {
        var clients = new dev.cherryq.fleet.kafka.KafkaClients(fleet.config());
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = clients.consumer(null, "it-replay-reader")) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(info -> new TopicPartition(topic, info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end");
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.key() != null && (record.key().equals(jobId) || record.key().startsWith(jobId + "/"))) {
                        records.add(record);
                    }
                }
            }
        }
        try (KafkaProducer<String, byte[]> producer = clients.producer("it-replayer")) {
            for (ConsumerRecord<String, byte[]> record : records) {
                producer.send(new ProducerRecord<>(topic, null, record.key(), record.value(), record.headers())).get();
            }
        }
        return records.size();
    }
}
