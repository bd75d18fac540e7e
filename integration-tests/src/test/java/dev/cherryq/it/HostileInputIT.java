package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Message;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import dev.cherryq.proto.v1.EvalResult;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.ScoreTask;
import dev.cherryq.proto.v1.TrainTask;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
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
 * Poison messages on every stage's input topic, and hostile or broken requests through the gateway, against the
 * whole fleet in this JVM on the run's broker and S3 store. No bad message stops a consumer; every bad request ends
 * as a FAILED job with its reason; nothing outside the configured roots is read or written.
 */
@ExtendWith(FleetInfrastructure.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HostileInputIT {

    private static final Logger LOG = LoggerFactory.getLogger(HostileInputIT.class);
    /** Small enough that an oversized record is cheap to make, large enough for every real task message. */
    private static final int MAX_MESSAGE_BYTES = 64 * 1024;
    private static final String SENTINEL = "cherryq-it-sentinel-7d1e0c: this file is outside every root";

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static ServiceHost host;
    static GatewayApi api;
    static Path outside;
    static Path extraModels;

    @BeforeAll
    static void startFleet(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "hostile");
        JobSpecs.writeTexts(fleet.data());
        Files.writeString(fleet.data().resolve("empty.txt"), "");
        // a second model root holding a model that is not LLaMA
        extraModels = Files.createDirectories(directory.resolve("models"));
        Path notLlama = Files.createDirectories(extraModels.resolve("gpt2-like"));
        try (Stream<Path> files = Files.list(ItFleet.models().resolve("demo"))) {
            for (Path file : files.toList()) {
                Files.copy(file, notLlama.resolve(file.getFileName()));
            }
        }
        Path config = notLlama.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"model_type\" : \"llama\"", "\"model_type\" : \"gpt2\""));
        assertTrue(Files.readString(config).contains("gpt2"), "the fixture changed model_type");
        outside = Files.createDirectories(directory.resolve("outside"));
        Files.writeString(outside.resolve("secret.txt"), SENTINEL);
        fleet.environment().put(FleetConfig.MODEL_ROOTS.name(), ItFleet.models() + "," + extraModels);
        fleet.environment().put(FleetConfig.MAX_MESSAGE_BYTES.name(), Integer.toString(MAX_MESSAGE_BYTES));
        host = fleet.startAllInJvm(Map.of());
        api = new GatewayApi(host.port(), ItFleet.TOKEN);
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void shouldFailEachHostileOrBrokenRequestWithItsReasonAndTouchNothingOutsideTheRoots() throws Exception {
        String secret = outside.resolve("secret.txt").toString();
        Map<String, List<String>> cases = new LinkedHashMap<>(); // request override -> words the reason must hold
        cases.put(",\"model\":\"no-such-model\"", List.of("no-such-model", "not found"));
        cases.put(",\"model\":\"gpt2-like\"", List.of("model_type 'gpt2' is not supported"));
        cases.put(",\"model\":\"../../etc/passwd\"", List.of("outside"));
        cases.put(",\"model\":\"" + outside + "\"", List.of("outside"));
        cases.put(",\"model\":\"file:///etc/shadow\"", List.of("outside"));
        cases.put(",\"eval_data\":\"../outside/secret.txt\"", List.of("outside"));
        cases.put(",\"calibration_data\":\"" + secret + "\"", List.of("outside"));
        cases.put(",\"train_data\":\"file://" + secret + "\"", List.of("outside"));
        cases.put(",\"model\":\"s3://not-our-bucket/models/demo\"", List.of("not-our-bucket", "allow-list"));
        cases.put(",\"calibration_data\":\"empty.txt\"", List.of("empty.txt", "holds no text"));
        Map<String, String> outsideBefore = listing(outside);
        List<String> report = new ArrayList<>();
        for (Map.Entry<String, List<String>> entry : cases.entrySet()) {
            String jobId = api.submit(JobSpecs.tiny(entry.getKey()));
            String reason = awaitFailed(jobId, entry.getKey());
            for (String word : entry.getValue()) {
                assertTrue(reason.contains(word), entry.getKey() + ": the reason '" + reason + "' names " + word);
            }
            report.add(entry.getKey() + " -> " + reason);
        }
        LOG.info("hostile requests, each FAILED with its reason:\n  {}", String.join("\n  ", report));
        assertEquals(outsideBefore, listing(outside), "nothing outside the roots was written");
        assertNoCopyOfTheSentinel();
    }

    /**
     * Every bound of a request: the gateway answers 400 naming the field and its range, and the same request
     * published straight to the requests topic (as a producer that skips the gateway would) fails in the planner
     * with the same words: the planner is the last line of defence.
     */
    @Test
    void shouldRefuseEveryOutOfRangeFieldAtTheGatewayAndInThePlanner() throws Exception {
        Map<String, String> cases = new LinkedHashMap<>(); // request override -> words the reason must hold
        cases.put(",\"bits\":1", "bits: 1 is out of range 2..8");
        cases.put(",\"bits\":9", "bits: 9 is out of range 2..8");
        cases.put(",\"group_size\":0", "group_size: 0 is out of range 1..1048576");
        cases.put(",\"cherry_fraction\":0.75", "cherry_fraction: 0.75 is out of range 0..0.5");
        cases.put(",\"calibration_samples\":2000000", "calibration_samples: 2000000 is out of range 1..1000000");
        cases.put(",\"steps\":20000000", "steps: 20000000 is out of range 1..10000000");
        cases.put(",\"batch_size\":0", "batch_size: 0 is out of range 1..65536");
        cases.put(",\"grad_accum\":70000", "grad_accum: 70000 is out of range 1..65536");
        cases.put(",\"lr\":-1", "lr: -1.0 must be positive and finite");
        cases.put(",\"warmup_fraction\":1.5", "warmup_fraction: 1.5 is out of range 0..1");
        cases.put(",\"floor_fraction\":-0.1", "floor_fraction: -0.1 is out of range 0..1");
        cases.put(",\"weight_decay\":-1", "weight_decay: -1.0 must be finite and at least 0");
        cases.put(",\"gradient_clip\":0", "gradient_clip: 0.0 must be positive and finite");
        cases.put(",\"validation_windows\":5000", "validation_windows: 5000 is out of range 0..4096");
        cases.put(",\"cherry_lr_scale\":0", "cherry_lr_scale: 0.0 is out of range (0, 1000]");
        cases.put(",\"seq_len\":1", "seq_len: 1 is out of range 2..1048576");
        cases.put(",\"calibration_shards\":3", "calibration_shards: 3 is out of range 1..2");
        cases.put(",\"segment_steps\":0", "segment_steps: 0 is out of range 1..10000000");
        cases.put(",\"eval_windows_per_shard\":0", "eval_windows_per_shard: 0 is out of range 1..1000000");
        cases.put(",\"eval_batch_size\":5000", "eval_batch_size: 5000 is out of range 1..4096");
        cases.put(",\"steps\":10000000,\"batch_size\":65536", "training tokens exceed the fleet's limit");
        cases.put(",\"export\":\"gguf:q5_k\"", "export 'gguf:q5_k' is not supported");
        List<String> report = new ArrayList<>();
        int direct = 0;
        try (KafkaProducer<String, byte[]> producer = new KafkaClients(fleet.config()).producer("it-direct")) {
            for (Map.Entry<String, String> entry : cases.entrySet()) {
                String body = JobSpecs.tiny(entry.getKey());
                GatewayApi.Reply reply = api.post("/v1/jobs", body, ItFleet.TOKEN);
                assertEquals(400, reply.status(), entry.getKey() + " -> " + reply.body());
                String refusal = reply.json().path("error").asText();
                assertTrue(refusal.contains(entry.getValue()), entry.getKey() + ": '" + refusal + "' names '"
                        + entry.getValue() + "'");
                String jobId = "job-direct-" + direct++;
                QuantizationRequest request = dev.cherryq.gateway.JobRequestJson.parse(body, jobId);
                producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), jobId, request.toByteArray())).get();
                String reason = awaitFailed(jobId, entry.getKey());
                assertTrue(reason.contains(entry.getValue()), entry.getKey() + ": the planner's reason '" + reason
                        + "' names '" + entry.getValue() + "'");
                report.add(entry.getKey() + " -> 400 and FAILED: " + entry.getValue());
            }
        }
        LOG.info("out-of-range requests, each refused by the gateway and failed by the planner:\n  {}",
                String.join("\n  ", report));
    }

    /** Waits for the job to end, asserts it FAILED as an invalid request, and returns the reason. */
    private static String awaitFailed(String jobId, String what) throws Exception {
        JsonNode status = api.awaitEnd(jobId, Duration.ofMinutes(2));
        assertEquals("JOB_STATE_FAILED", status.path("state").asText(), what + " -> " + status);
        assertEquals("INVALID_REQUEST", status.path("error").path("code").asText(), what);
        return status.path("error").path("message").asText();
    }

    @Test
    void shouldFailAJobWhoseTensorWasCorruptedAfterUpload() throws Exception {
        // the scorer writes its Fisher partial, then holds before publishing; the test flips bytes in one object
        fleet.arm("scorer", Duration.ofSeconds(4), "");
        String jobId = api.submit(JobSpecs.tiny(""));
        fleet.awaitMarker("scorer", "handled", Duration.ofMinutes(2));
        String partial;
        try (var store = fleet.store()) {
            // one scoring shard, written one object per decoder layer, then its group count: corrupt layer 0's
            List<String> keys = store.list("jobs/" + jobId + "/scorer/").stream()
                    .filter(key -> key.endsWith("-group-0.safetensors")).toList();
            assertEquals(1, keys.size(), "one scoring shard: " + keys);
            partial = keys.get(0);
            byte[] bytes = store.readIfExists(partial).orElseThrow();
            bytes[bytes.length - 1] ^= 0x55;
            String prefix = fleet.config().s3().prefix();
            try (var s3 = fleet.s3Client()) {
                s3.putObject(request -> request.bucket(ItFleet.BUCKET).key(prefix + keys.get(0)),
                        software.amazon.awssdk.core.sync.RequestBody.fromBytes(bytes));
            }
        }
        JsonNode status = api.awaitEnd(jobId, Duration.ofMinutes(2));
        assertEquals("JOB_STATE_FAILED", status.path("state").asText(), status.toString());
        assertEquals("INTEGRITY", status.path("error").path("code").asText(), status.toString());
        assertTrue(status.path("error").path("message").asText().contains("sha256"), status.toString());
        LOG.info("corrupted {} after upload: job FAILED with {}", partial, status.path("error"));
    }

    @Test
    void shouldDeadLetterEveryPoisonMessageAndKeepConsuming() throws Exception {
        Map<TopicSpec, Message> valid = new LinkedHashMap<>();
        QuantizationRequest hostile = QuantizationRequest.newBuilder().setJobId("job-poison").setMethodValue(99).build();
        valid.put(Topics.REQUESTS, QuantizationRequest.newBuilder().setJobId("job-poison").build());
        valid.put(Topics.SCORE_TASKS, ScoreTask.newBuilder().setJobId("job-poison").build());
        valid.put(Topics.SCORE_RESULTS, ScoreResult.newBuilder().setJobId("job-poison").build());
        valid.put(Topics.TRAIN_TASKS, TrainTask.newBuilder().setJobId("job-poison").build());
        valid.put(Topics.EVAL_TASKS, EvalTask.newBuilder().setJobId("job-poison").build());
        valid.put(Topics.EVAL_RESULTS, EvalResult.newBuilder().setJobId("job-poison").build());
        Map<TopicSpec, Message> unknownEnum = Map.of(
                Topics.REQUESTS, hostile,
                Topics.SCORE_TASKS, ScoreTask.newBuilder().setJobId("job-poison").setRequest(hostile).build(),
                Topics.SCORE_RESULTS, ScoreResult.newBuilder().setJobId("job-poison").setRequest(hostile).build(),
                Topics.TRAIN_TASKS, TrainTask.newBuilder().setJobId("job-poison").setRequest(hostile).build(),
                Topics.EVAL_TASKS, EvalTask.newBuilder().setJobId("job-poison").setRequest(hostile).build(),
                Topics.EVAL_RESULTS, EvalResult.newBuilder().setJobId("job-poison").setRequest(hostile).build());
        String before = api.metrics();
        Random random = new Random(42);
        int sent = 0;
        try (KafkaProducer<String, byte[]> producer = new KafkaClients(fleet.config()).producer("it-poisoner")) {
            for (Map.Entry<TopicSpec, Message> entry : valid.entrySet()) {
                TopicSpec topic = entry.getKey();
                byte[] randomBytes = new byte[512];
                random.nextBytes(randomBytes);
                byte[] message = unknownEnum.get(topic).toByteArray();
                byte[] truncated = Arrays.copyOf(message, message.length - 3);
                byte[] oversized = new byte[MAX_MESSAGE_BYTES + 1000];
                Map<String, byte[]> poisons = new LinkedHashMap<>();
                poisons.put("random-bytes", randomBytes);
                poisons.put("truncated", truncated);
                poisons.put("wrong-type", JobEvent.newBuilder().setJobId("job-poison").build().toByteArray());
                poisons.put("unknown-enum", message);
                poisons.put("oversized", oversized);
                for (Map.Entry<String, byte[]> poison : poisons.entrySet()) {
                    RecordHeaders headers = new RecordHeaders();
                    String type = poison.getKey().equals("wrong-type") ? "cherryq.v1.JobEvent"
                            : entry.getValue().getDescriptorForType().getFullName();
                    headers.add(Topics.HEADER_TYPE, type.getBytes(StandardCharsets.UTF_8));
                    producer.send(new ProducerRecord<>(topic.name(), null, "poison/" + topic.name() + "/"
                            + poison.getKey(), poison.getValue(), headers)).get();
                    sent++;
                }
            }
        }
        List<ConsumerRecord<String, byte[]>> dead = deadLetters(sent);
        assertEquals(sent, dead.size(), "every poison message is on the dead-letter topic, once");
        Map<String, String> codes = new LinkedHashMap<>();
        for (ConsumerRecord<String, byte[]> record : dead) {
            String code = header(record, Topics.HEADER_ERROR_CODE);
            assertTrue(!header(record, Topics.HEADER_ERROR_MESSAGE).isEmpty(), "an error message header");
            assertEquals(record.key().split("/")[1], header(record, Topics.HEADER_SOURCE_TOPIC));
            codes.put(record.key(), code);
        }
        for (Map.Entry<String, String> entry : codes.entrySet()) {
            String kind = entry.getKey().substring(entry.getKey().lastIndexOf('/') + 1);
            String expected = switch (kind) {
                case "random-bytes", "truncated", "unknown-enum" -> "INVALID_MESSAGE";
                case "wrong-type" -> "WRONG_TYPE";
                default -> "TOO_LARGE";
            };
            assertEquals(expected, entry.getValue(), entry.getKey());
        }
        String after = api.metrics();
        assertEquals(sent, Metrics.sum(after, "cherryq_dead_letters_total") - Metrics.sum(before,
                "cherryq_dead_letters_total"), "the dead-letter metric counts each one");
        // every consumer is still there: a job through every stage completes
        String jobId = api.submit(JobSpecs.tiny(""));
        JsonNode status = api.awaitEnd(jobId, Duration.ofMinutes(2));
        assertEquals("JOB_STATE_COMPLETED", status.path("state").asText(), status.toString());
        LOG.info("{} poison messages on {} topics dead-lettered with codes {}; a job then completed", sent,
                valid.size(), new java.util.TreeSet<>(codes.values()));
    }

    private static List<ConsumerRecord<String, byte[]>> deadLetters(int expected) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaClients(fleet.config()).consumer(null, "it-dlq-reader")) {
            KafkaClients.assignFromBeginning(consumer, Topics.DEAD_LETTERS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (System.nanoTime() < deadline && records.size() < expected) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.key() != null && record.key().startsWith("poison/")) {
                        records.add(record);
                    }
                }
            }
            // a little longer: a duplicate dead letter would show up here
            long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (System.nanoTime() < settle) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.key() != null && record.key().startsWith("poison/")) {
                        records.add(record);
                    }
                }
            }
        }
        return records;
    }

    private static String header(ConsumerRecord<String, byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? "" : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static Map<String, String> listing(Path folder) throws Exception {
        Map<String, String> files = new java.util.TreeMap<>();
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path file : walk.filter(Files::isRegularFile).toList()) {
                files.put(folder.relativize(file).toString(), Files.getLastModifiedTime(file) + " "
                        + Files.size(file));
            }
        }
        return files;
    }

    /** The sentinel's text is in no object of this fleet and no file of its work folders. */
    private static void assertNoCopyOfTheSentinel() throws Exception {
        byte[] needle = SENTINEL.getBytes(StandardCharsets.UTF_8);
        try (var store = fleet.store()) {
            for (String key : store.list("")) {
                byte[] bytes = store.readIfExists(key).orElse(new byte[0]);
                assertTrue(indexOf(bytes, needle) < 0, "object " + key + " holds the outside file's text");
            }
        }
        try (Stream<Path> walk = Files.walk(directory)) {
            for (Path file : walk.filter(Files::isRegularFile).filter(f -> !f.startsWith(outside)).toList()) {
                if (Files.size(file) < 64 << 20) {
                    assertTrue(indexOf(Files.readAllBytes(file), needle) < 0, file + " holds the outside file's text");
                }
            }
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
