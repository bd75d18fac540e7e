package dev.cherryq.it.infra;

import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.time.Duration;

/** The in-JVM KRaft broker (FACTS.md), restartable on the same port and log folder. */
final class EmbeddedKafka implements KafkaService {

    private final Path logDirectory;
    private final int port;
    private EmbeddedKafkaBroker broker;

    EmbeddedKafka(Path logDirectory) throws Exception {
        this.logDirectory = logDirectory;
        this.broker = EmbeddedKafkaBroker.start(logDirectory, 0);
        this.port = broker.port();
    }

    @Override
    public String bootstrapServers() {
        return broker.bootstrapServers();
    }

    @Override
    public synchronized void restart(Duration down) throws Exception {
        broker.close();
        Thread.sleep(down.toMillis());
        broker = EmbeddedKafkaBroker.start(logDirectory, port);
    }

    @Override
    public String describe() {
        return "embedded KRaft broker (org.apache.kafka:kafka_2.13, in the test JVM) at " + bootstrapServers();
    }

    @Override
    public synchronized void close() {
        broker.close();
    }
}
