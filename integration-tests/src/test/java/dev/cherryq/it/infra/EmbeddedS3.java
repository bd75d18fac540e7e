package dev.cherryq.it.infra;

import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;

/**
 * s3proxy (FACTS.md) serving real S3 over a local folder on 127.0.0.1, with signature checks. An outage stops the
 * server (connections refused) and starts a new one on the same port over the same folder.
 */
final class EmbeddedS3 implements S3Service {

    private static final String ACCESS_KEY = "cherryq-it-access";
    private static final String SECRET_KEY = "cherryq-it-secret-0b7f3c";

    private final BlobStore blobStore;
    private final URI endpoint;
    private S3Proxy proxy;

    EmbeddedS3(Path directory) throws Exception {
        Files.createDirectories(directory);
        Properties properties = new Properties();
        properties.setProperty("jclouds.filesystem.basedir", directory.toAbsolutePath().toString());
        properties.setProperty("jclouds.identity", ACCESS_KEY);
        properties.setProperty("jclouds.credential", SECRET_KEY);
        this.blobStore = BlobStores.create("filesystem", properties);
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        this.endpoint = URI.create("http://127.0.0.1:" + port);
        start();
    }

    private void start() throws Exception {
        proxy = S3Proxy.builder().blobStore(blobStore).endpoint(endpoint)
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true).stopTimeout(1000).build();
        proxy.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("s3proxy did not start within 30 s at " + endpoint);
            }
            Thread.sleep(10);
        }
    }

    @Override
    public URI endpoint() {
        return endpoint;
    }

    @Override
    public String accessKey() {
        return ACCESS_KEY;
    }

    @Override
    public String secretKey() {
        return SECRET_KEY;
    }

    @Override
    public synchronized void outage(Duration down) throws Exception {
        try {
            proxy.stop();
        } catch (java.util.concurrent.TimeoutException e) {
            // Jetty gave up waiting for open connections to finish: they are cut, which is the point
        }
        try {
            Thread.sleep(down.toMillis());
        } finally {
            start();
        }
    }

    @Override
    public String describe() {
        return "s3proxy (org.gaul:s3proxy, in the test JVM, filesystem blob store) at " + endpoint;
    }

    @Override
    public synchronized void close() {
        try {
            proxy.stop();
        } catch (java.util.concurrent.TimeoutException e) {
            // open connections were cut after the grace period
        } catch (Exception e) {
            throw new IllegalStateException("s3proxy did not stop", e);
        }
    }
}
