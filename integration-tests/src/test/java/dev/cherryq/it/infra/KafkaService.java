package dev.cherryq.it.infra;

import java.time.Duration;

/** The broker the fleet under test talks to: an in-JVM KRaft broker, or an apache/kafka container. */
public interface KafkaService extends AutoCloseable {

    String bootstrapServers();

    /**
     * Takes the broker away for {@code down} and brings it back at the same address with its data: a stop and a
     * start of the embedded broker on the same log folder and port; a pause and unpause of the container.
     */
    void restart(Duration down) throws Exception;

    /** What runs, for reports: "embedded KRaft broker" or the container image. */
    String describe();

    @Override
    void close();
}
