package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.util.JsonFormat;
import dev.cherryq.cli.CherryqCommand;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.gateway.JobRequestJson;
import dev.cherryq.gateway.JobStatusFold;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.DebianPackages;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.VariantResult;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Event-native jobs (docs/EVENTS.md): a fleet with no gateway takes a request published with kcat (Debian's, proto3
 * JSON; skipped with the reason on a machine that cannot fetch kcat, failed in CI) and one published with
 * {@code cherryq publish}; both complete with the results of the same request submitted over HTTP. The same request published twice is one job; requests that break a rule fail with the field named, are
 * dead-lettered, and nothing else happens.
 */
@ExtendWith(FleetInfrastructure.class)
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class EventsIT {

    private static final Logger LOG = LoggerFactory.getLogger(EventsIT.class);
    private static final List<TopicSpec> TASK_TOPICS = List.of(Topics.SCORE_TASKS, Topics.SCORE_RESULTS,
            Topics.TRAIN_TASKS, Topics.EVAL_TASKS, Topics.EVAL_RESULTS, Topics.SELECT_TASKS, Topics.SELECT_RESULTS);

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static ServiceHost stages;

    @BeforeAll
    static void startFleet(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "events");
        JobSpecs.writeTexts(fleet.data());
        stages = fleet.startWithoutGateway();
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void shouldCompleteRequestsPublishedWithKcatAndCherryqPublishAsOverHttp() throws Exception {
        String body = JobSpecs.tiny("");
        // 1. kcat, proto3 JSON, the job id from the key
        Path kcat = kcat();
        String json = JsonFormat.printer().print(JobRequestJson.parse(body, "").toBuilder().clearJobId().build());
        Path file = Files.writeString(directory.resolve("request.json"), json);
        DebianPackages.run(null, "env", "LD_LIBRARY_PATH=" + kcat.resolve("usr/lib/x86_64-linux-gnu"),
                kcat.resolve("usr/bin/kcat").toString(), "-b", fleet.config().bootstrapServers(), "-P", "-t",
                Topics.REQUESTS.name(), "-k", "job-kcat-1", "-H", "content-type=application/json", file.toString());
        JobStatus byKcat = awaitEnd("job-kcat-1");
        assertEquals(JobState.JOB_STATE_COMPLETED, byKcat.getState(), byKcat.toString());

        // 2. cherryq publish --follow, from Kafka alone; then the same request again: the same job
        String published = cherryq("publish", "--bootstrap", fleet.config().bootstrapServers(), "--json", body,
                "--idempotency-key", "events-it", "--follow");
        String jobId = published.lines().findFirst().orElseThrow();
        JobStatus byPublish = awaitEnd(jobId);
        assertEquals(JobState.JOB_STATE_COMPLETED, byPublish.getState(), byPublish.toString());
        assertTrue(published.contains("| cherryq |"), published);
        double handled = plannerHandled();
        String again = cherryq("publish", "--bootstrap", fleet.config().bootstrapServers(), "--json", body,
                "--idempotency-key", "events-it");
        assertEquals(jobId, again.strip(), "the same request under the same key is the same job");
        awaitPlannerHandled(handled + 1); // then anything the second copy led to is on the topics
        assertEquals(1, count(Topics.SCORE_TASKS, jobId), "planned once: one scoring shard, not two");

        // 3. the same request over HTTP, through a gateway started now
        ServiceHost gateway = fleet.startGatewayAndPlanner();
        GatewayApi api = new GatewayApi(gateway.port(), ItFleet.TOKEN);
        String overHttp = api.submit(body);
        JsonNode http = api.awaitEnd(overHttp, Duration.ofMinutes(2));
        assertEquals("JOB_STATE_COMPLETED", http.path("state").asText(), http.toString());
        Map<String, Double> reference = new LinkedHashMap<>();
        for (JsonNode row : http.path("result").path("variants")) {
            reference.put(row.path("variant").asText(), row.path("meanNll").asDouble(row.path("mean_nll").asDouble()));
        }
        for (JobStatus status : List.of(byKcat, byPublish)) {
            Map<String, Double> rows = new LinkedHashMap<>();
            for (VariantResult row : status.getResult().getVariantsList()) {
                rows.put(row.getVariant(), row.getMeanNll());
            }
            assertEquals(reference.keySet(), rows.keySet(), status.getJobId());
            reference.forEach((variant, nll) -> assertEquals(nll, rows.get(variant), 1e-6,
                    status.getJobId() + " " + variant + " against HTTP's"));
        }
        LOG.info("kcat, cherryq publish and HTTP gave the same rows: {}", reference);
    }

    @Test
    void shouldFailARequestThatBreaksARuleNamingTheFieldAndDoNothingElse() throws Exception {
        ObjectNode valid = (ObjectNode) GatewayApi.JSON.readTree(JsonFormat.printer().print(
                JobRequestJson.parse(JobSpecs.tiny(""), "").toBuilder().clearJobId().build()));
        Map<String, String> cases = new LinkedHashMap<>(); // job id -> words the reason must hold
        Map<String, JsonNode> bodies = new LinkedHashMap<>();
        bodies.put("job-bad-fraction", valid.deepCopy().put("cherryFraction", 0.75));
        cases.put("job-bad-fraction", "cherry_fraction: 0.75 is out of range 0..0.5");
        ObjectNode nanRate = valid.deepCopy();
        ((ObjectNode) nanRate.path("qat")).put("learningRate", "NaN");
        bodies.put("job-nan-rate", nanRate);
        cases.put("job-nan-rate", "lr: NaN must be positive and finite");
        ObjectNode noModel = valid.deepCopy();
        noModel.remove("model");
        bodies.put("job-no-model", noModel);
        cases.put("job-no-model", "model: required");
        RecordHeaders headers = new RecordHeaders();
        headers.add(Topics.HEADER_CONTENT_TYPE, Topics.JSON.getBytes(StandardCharsets.UTF_8));
        try (KafkaProducer<String, byte[]> producer = new KafkaClients(fleet.config()).producer("events-it")) {
            for (Map.Entry<String, JsonNode> entry : bodies.entrySet()) {
                producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), null, entry.getKey(),
                        entry.getValue().toString().getBytes(StandardCharsets.UTF_8), headers)).get();
            }
        }
        for (Map.Entry<String, String> entry : cases.entrySet()) {
            JobStatus status = awaitEnd(entry.getKey());
            assertEquals(JobState.JOB_STATE_FAILED, status.getState(), status.toString());
            assertEquals("INVALID_REQUEST", status.getError().getCode());
            assertTrue(status.getError().getMessage().contains(entry.getValue()), entry.getKey() + ": "
                    + status.getError().getMessage());
        }
        List<ConsumerRecord<String, byte[]>> dead = readAll(Topics.DEAD_LETTERS);
        for (String jobId : cases.keySet()) {
            ConsumerRecord<String, byte[]> record = dead.stream().filter(r -> jobId.equals(r.key())).findFirst()
                    .orElseThrow(() -> new AssertionError(jobId + " is not on the dead-letter topic"));
            String reason = new String(record.headers().lastHeader(Topics.HEADER_ERROR_MESSAGE).value(),
                    StandardCharsets.UTF_8);
            assertTrue(reason.contains(cases.get(jobId)), reason);
            for (TopicSpec topic : TASK_TOPICS) {
                assertEquals(0, count(topic, jobId), jobId + " left nothing on " + topic.name());
            }
        }
    }

    /**
     * kcat and its libraries, from Debian (unpacked, not installed). Where they cannot be fetched (no apt-get, no
     * network to Debian) the test is skipped with the reason on a user's machine and fails in CI ({@code CI=true}).
     */
    private static Path kcat() throws Exception {
        try {
            return DebianPackages.unpack("kcat", List.of("kcat", "librdkafka1", "libyajl2"), directory.resolve("kcat"));
        } catch (IllegalStateException e) {
            String reason = "kcat could not be fetched from Debian (apt-get download kcat librdkafka1 libyajl2): "
                    + e.getMessage();
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError("missing tool in CI (CI=true): " + reason, e);
            }
            org.junit.jupiter.api.Assumptions.abort("SKIPPED: " + reason);
            return null; // not reached
        }
    }

    private static String cherryq(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CherryqCommand.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, code, err.toString());
        return out.toString();
    }

    /** The job's status folded from its events, once final (bounded: 3 minutes). */
    private static JobStatus awaitEnd(String jobId) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        JobStatus status = null;
        try (KafkaConsumer<String, byte[]> consumer = reader()) {
            seekToBeginning(consumer, Topics.JOB_EVENTS);
            while (System.nanoTime() < deadline && (status == null || !JobStatusFold.isFinal(status.getState()))) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (jobId.equals(record.key())) {
                        status = JobStatusFold.apply(status, JobEvent.parseFrom(record.value()));
                    }
                }
            }
        }
        if (status == null || !JobStatusFold.isFinal(status.getState())) {
            throw new AssertionError("job " + jobId + " did not end within 3 minutes: " + status);
        }
        return status;
    }

    /** Request records the planner of the gateway-less host has handled (completed, duplicates included). */
    private static double plannerHandled() {
        String prefix = "cherryq_tasks_completed_total{stage=\"planner\"} ";
        String metrics = new String(stages.context().metrics().scrape(), StandardCharsets.UTF_8);
        return metrics.lines().filter(line -> line.startsWith(prefix)).mapToDouble(line -> Double.parseDouble(
                line.substring(prefix.length()))).findFirst().orElse(0);
    }

    /** Waits (bounded: 60 s) until the planner has handled {@code records} request records. */
    private static void awaitPlannerHandled(double records) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (plannerHandled() < records) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the planner handled " + plannerHandled() + " records, not " + records);
            }
            Thread.sleep(50);
        }
    }

    /** Records of a topic with the key or a key starting "jobId/" (task topics key by job and shard). */
    private static long count(TopicSpec topic, String jobId) {
        return readAll(topic).stream().filter(r -> r.key() != null && (r.key().equals(jobId)
                || r.key().startsWith(jobId + "/"))).count();
    }

    private static List<ConsumerRecord<String, byte[]>> readAll(TopicSpec topic) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = reader()) {
            List<TopicPartition> partitions = seekToBeginning(consumer, topic);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))
                    && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    private static KafkaConsumer<String, byte[]> reader() {
        return new KafkaClients(fleet.config()).consumer(null, "events-it-reader");
    }

    private static List<TopicPartition> seekToBeginning(KafkaConsumer<String, byte[]> consumer, TopicSpec topic) {
        return KafkaClients.assignFromBeginning(consumer, topic);
    }
}
