package dev.cherryq.it.infra;

import java.net.URI;
import java.time.Duration;

/** S3-compatible storage for the fleet under test: s3proxy in this JVM, or a MinIO container. */
public interface S3Service extends AutoCloseable {

    URI endpoint();

    String accessKey();

    String secretKey();

    /** Makes the endpoint refuse every request for {@code down}, then serves the same data again. */
    void outage(Duration down) throws Exception;

    String describe();

    @Override
    void close();
}
