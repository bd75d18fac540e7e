package dev.cherryq.it.infra;

import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;

/**
 * The real infrastructure of one integration-test run: a Kafka broker and S3-compatible storage, shared by every
 * test class and closed when the run ends. Chosen by {@code -Dcherryq.it.infra}: {@code docker} (Testcontainers:
 * apache/kafka and MinIO), {@code embedded} (the in-JVM KRaft broker and s3proxy), or {@code auto} (the default:
 * Docker when an engine answers, embedded otherwise). The same test classes run in both worlds.
 */
public record Infrastructure(String world, KafkaService kafka, S3Service s3) implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Infrastructure.class);
    public static final String PROPERTY = "cherryq.it.infra";

    static Infrastructure start() throws Exception {
        String choice = System.getProperty(PROPERTY, "auto").trim().toLowerCase(java.util.Locale.ROOT);
        boolean docker = switch (choice) {
            case "docker" -> true;
            case "embedded" -> false;
            case "auto" -> dockerAvailable();
            default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + choice
                    + ": expected auto, docker or embedded");
        };
        Infrastructure infrastructure;
        if (docker) {
            infrastructure = new Infrastructure("docker", new DockerServices.Kafka(), new DockerServices.S3());
        } else {
            Path directory = Files.createTempDirectory("cherryq-it-infra-");
            infrastructure = new Infrastructure("embedded", new EmbeddedKafka(directory.resolve("kafka")),
                    new EmbeddedS3(directory.resolve("s3")));
        }
        LOG.info("integration-test infrastructure ({} requested, {} chosen):\n  Kafka: {}\n  S3: {}", choice,
                infrastructure.world(), infrastructure.kafka().describe(), infrastructure.s3().describe());
        return infrastructure;
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public void close() {
        try {
            kafka.close();
        } finally {
            s3.close();
        }
    }
}
