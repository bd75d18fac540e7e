package dev.cherryq.it.infra;

import java.net.URI;
import java.time.Duration;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The Docker world: apache/kafka and MinIO by Testcontainers. Restart and outage pause and unpause the container,
 * which keeps its mapped ports (a stop and start could map new ones). Written for machines with a Docker engine;
 * the machine this project is built on has none, so this path has not been run here.
 */
final class DockerServices {

    static final String KAFKA_IMAGE = "apache/kafka:4.0.0";
    static final String MINIO_IMAGE = "minio/minio:RELEASE.2025-04-22T22-12-26Z";

    private DockerServices() {}

    static void pauseFor(GenericContainer<?> container, Duration down) throws InterruptedException {
        var docker = DockerClientFactory.instance().client();
        docker.pauseContainerCmd(container.getContainerId()).exec();
        try {
            Thread.sleep(down.toMillis());
        } finally {
            docker.unpauseContainerCmd(container.getContainerId()).exec();
        }
    }

    static final class Kafka implements KafkaService {
        private final KafkaContainer container = new KafkaContainer(KAFKA_IMAGE);

        Kafka() {
            container.start();
        }

        @Override
        public String bootstrapServers() {
            return container.getBootstrapServers().replace("localhost", "127.0.0.1");
        }

        @Override
        public void restart(Duration down) throws Exception {
            pauseFor(container, down);
        }

        @Override
        public String describe() {
            return KAFKA_IMAGE + " container at " + bootstrapServers();
        }

        @Override
        public void close() {
            container.stop();
        }
    }

    static final class S3 implements S3Service {
        private final MinIOContainer container = new MinIOContainer(MINIO_IMAGE);

        S3() {
            container.start();
        }

        @Override
        public URI endpoint() {
            return URI.create(container.getS3URL().replace("localhost", "127.0.0.1"));
        }

        @Override
        public String accessKey() {
            return container.getUserName();
        }

        @Override
        public String secretKey() {
            return container.getPassword();
        }

        @Override
        public void outage(Duration down) throws Exception {
            pauseFor(container, down);
        }

        @Override
        public String describe() {
            return MINIO_IMAGE + " container at " + endpoint();
        }

        @Override
        public void close() {
            container.stop();
        }
    }
}
