package dev.cherryq.fleet.testing;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.config.LocalFleetSettings;
import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import io.vertx.core.Deployable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * A real fleet for tests: an in-JVM KRaft broker on 127.0.0.1, a filesystem store in a temporary folder (the
 * settings of every fleet on this machine, {@link LocalFleetSettings}), and a {@link ServiceHost} with the verticles
 * under test. Reads and writes topics directly, with bounded waits.
 */
public final class FleetHarness implements AutoCloseable {

    public static final Duration WAIT = Duration.ofSeconds(120);

    private final Path directory;
    private final EmbeddedKafkaBroker broker;
    private final Map<String, String> environment;
    private final KafkaProducer<String, byte[]> producer;
    private final List<ServiceHost> hosts = new ArrayList<>();

    public FleetHarness(Path directory) throws Exception {
        this.directory = directory;
        this.broker = EmbeddedKafkaBroker.start(directory.resolve("kafka"), 0);
        this.environment = LocalFleetSettings.of(broker.bootstrapServers(), directory, repository().resolve("models"),
                List.of(Files.createDirectories(directory.resolve("data"))));
        environment.put(FleetConfig.TASK_MAX_ATTEMPTS.name(), "2");
        KafkaClients clients = new KafkaClients(config());
        clients.ensureTopics(Topics.ALL);
        this.producer = clients.producer("test-producer");
    }

    /** The repository root (surefire sets cherryq.home). */
    public static Path repository() {
        return Path.of(System.getProperty("cherryq.home", "../..")).toAbsolutePath().normalize();
    }

    /** The committed demo model: a real trained LLaMA with its tokenizer, always in the repository. */
    public static Path demoModel() {
        return repository().resolve("models/demo");
    }

    public Map<String, String> environment() {
        return environment;
    }

    public FleetConfig config() {
        return FleetConfig.from(environment);
    }

    public Path dataDirectory() {
        return directory.resolve("data");
    }

    public String bootstrapServers() {
        return broker.bootstrapServers();
    }

    /** Starts a process-like host with the given verticles (its own work folder) and waits until ready. */
    public ServiceHost start(String name, List<Function<FleetContext, Deployable>> verticles) throws Exception {
        return start(name, verticles, Map.of());
    }

    /** As {@link #start(String, List)}, with settings that differ from the harness's. */
    public ServiceHost start(String name, List<Function<FleetContext, Deployable>> verticles,
            Map<String, String> overrides) throws Exception {
        Map<String, String> hostEnvironment = new HashMap<>(environment);
        hostEnvironment.putAll(overrides);
        hostEnvironment.put(FleetConfig.WORK_DIR.name(), directory.resolve("work-" + name).toString());
        ServiceHost host = ServiceHost.start(FleetConfig.from(hostEnvironment), hostEnvironment, name, verticles);
        hosts.add(host);
        return host.awaitReady(WAIT);
    }

    /**
     * The host's /metrics text once it holds every one of {@code samples} (or the last scrape after 30 s). Outputs are
     * published before a task is committed and counted, and a scrape reads counters one after another, so a test that
     * saw a task's output waits for its counters here instead of scraping once.
     */
    public static String awaitMetrics(ServiceHost host, String... samples) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            String metrics = new String(host.context().metrics().scrape(), java.nio.charset.StandardCharsets.UTF_8);
            if (java.util.Arrays.stream(samples).allMatch(metrics::contains) || System.nanoTime() > deadline) {
                return metrics;
            }
            Thread.sleep(50);
        }
    }

    public void stop(ServiceHost host) {
        hosts.remove(host);
        host.close();
    }

    public void send(TopicSpec topic, String key, Message message) throws Exception {
        RecordHeaders headers = new RecordHeaders();
        headers.add(Topics.HEADER_TYPE, message.getDescriptorForType().getFullName().getBytes(StandardCharsets.UTF_8));
        producer.send(new ProducerRecord<>(topic.name(), null, key, message.toByteArray(), headers)).get();
    }

    public void sendRaw(TopicSpec topic, String key, byte[] value, RecordHeaders headers) throws Exception {
        producer.send(new ProducerRecord<>(topic.name(), null, key, value, headers)).get();
    }

    /** Every record of a topic from the beginning, parsed, once {@code done} holds for them (or the wait ends). */
    public <T extends Message> List<T> await(TopicSpec topic, Parser<T> parser, Predicate<List<T>> done) {
        return parse(awaitRecords(topic, records -> done.test(parse(records, parser))), parser);
    }

    private static <T extends Message> List<T> parse(List<ConsumerRecord<String, byte[]>> records, Parser<T> parser) {
        List<T> messages = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            try {
                messages.add(parser.parseFrom(record.value()));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                // a record of another type (dead-letter tests): skipped
            }
        }
        return messages;
    }

    /**
     * Every message of a topic published so far: read from the beginning up to the end offsets taken at the call. A
     * test that knows nothing more can arrive (its counters say so) asserts on what is there, not on a first poll.
     */
    public <T extends Message> List<T> readAll(TopicSpec topic, Parser<T> parser) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaClients(config()).consumer(null, "test-reader")) {
            List<TopicPartition> partitions = KafkaClients.assignFromBeginning(consumer, topic);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(topic.name() + ": not read to its end within " + WAIT);
                }
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return parse(records, parser);
    }

    /** Raw records of a topic from the beginning until {@code done} holds (or the wait ends). */
    public List<ConsumerRecord<String, byte[]>> awaitRecords(TopicSpec topic,
            Predicate<List<ConsumerRecord<String, byte[]>>> done) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaClients(config()).consumer(null, "test-reader")) {
            List<TopicPartition> partitions = KafkaClients.assignFromBeginning(consumer, topic);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    records.add(record);
                }
                if (done.test(records)) {
                    return records;
                }
            }
        }
        return records;
    }

    @Override
    public void close() {
        for (ServiceHost host : List.copyOf(hosts)) {
            host.close();
        }
        producer.close(Duration.ofSeconds(5));
        broker.close();
    }

    /** A few thousand tokens of deterministic English-like text for the demo tokenizer. */
    public static String sampleText(int paragraphs, long seed) {
        String[] subjects = {"The nation", "Our people", "The Congress", "This government", "Every citizen",
                "The economy", "Our workers", "The treaty", "The army", "Our schools"};
        String[] verbs = {"has grown", "must protect", "will secure", "shall defend", "has entered", "needs",
                "can improve", "should support", "has kept", "will build"};
        String[] objects = {"the public credit", "the rights of the people", "our commerce with other nations",
                "the peace of the world", "the common defense", "a sound currency", "new roads and canals",
                "the welfare of the States", "the laws of the Union", "the duties of the year"};
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        StringBuilder text = new StringBuilder();
        for (int p = 0; p < paragraphs; p++) {
            for (int s = 0; s < 6; s++) {
                text.append(subjects[random.nextInt(subjects.length)]).append(' ')
                        .append(verbs[random.nextInt(verbs.length)]).append(' ')
                        .append(objects[random.nextInt(objects.length)]).append(". ");
            }
            text.append("\n\n");
        }
        return text.toString();
    }
}
