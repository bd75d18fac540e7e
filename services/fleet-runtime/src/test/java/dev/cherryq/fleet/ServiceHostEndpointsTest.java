package dev.cherryq.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.testing.FleetHarness;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Every fleet process serves /health, /ready and /metrics (checked with a Vert.x client, Vert.x JUnit 5). */
@ExtendWith(VertxExtension.class)
class ServiceHostEndpointsTest {

    @TempDir
    static Path directory;
    static FleetHarness harness;
    static ServiceHost host;
    /**
     * Held in a field: Vert.x 5 shuts an HttpClient down when it is garbage collected, so a client in a local variable
     * can close its connections mid-request once the test method has returned (seen in CI as HttpClosedException).
     */
    HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        harness = new FleetHarness(directory);
        host = harness.start("endpoints", List.of());
    }

    @AfterAll
    static void stop() {
        harness.close();
    }

    @AfterEach
    void closeClient() {
        if (client != null) {
            client.close();
        }
    }

    @Test
    void shouldServeHealthReadinessAndPrometheusMetrics(Vertx vertx, VertxTestContext test) {
        client = vertx.createHttpClient();
        var checkpoint = test.checkpoint(3);
        for (String path : List.of("/health", "/ready", "/metrics")) {
            client.request(HttpMethod.GET, host.port(), "127.0.0.1", path)
                    .compose(request -> request.send())
                    .compose(response -> response.body().map(body -> {
                        test.verify(() -> {
                            assertEquals(200, response.statusCode(), path);
                            if (path.equals("/metrics")) {
                                assertTrue(response.getHeader("content-type").startsWith("text/plain"));
                                // stage metrics appear once a stage has labelled them; JVM metrics always
                                assertTrue(body.toString().contains("# TYPE jvm_memory_used_bytes gauge"),
                                        body.toString());
                            } else {
                                assertTrue(body.toString().contains("\"status\""), body.toString());
                            }
                        });
                        return body;
                    }))
                    .onComplete(test.succeeding(body -> checkpoint.flag()));
        }
    }
}
