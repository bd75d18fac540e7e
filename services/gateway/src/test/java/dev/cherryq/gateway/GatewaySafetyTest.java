package dev.cherryq.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.testing.FleetHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safe by default: no open gateway beyond loopback, and limits on who submits how much (429). */
class GatewaySafetyTest {

    @TempDir
    Path directory;

    private static FleetConfig config(Map<String, String> settings) {
        Map<String, String> environment = new HashMap<>(Map.of(FleetConfig.BOOTSTRAP_SERVERS.name(), "127.0.0.1:9",
                FleetConfig.STORE_DIR.name(), "/tmp/unused"));
        environment.putAll(settings);
        return FleetConfig.from(environment);
    }

    @Test
    void shouldRefuseToServeWithoutATokenBeyondLoopbackUnlessToldTheNetworkIsTrusted() {
        String host = FleetConfig.HTTP_HOST.name();
        String refusal = GatewayVerticle.refusal(config(Map.of(host, "0.0.0.0")));
        assertTrue(refusal != null && refusal.contains("CHERRYQ_GATEWAY_TOKEN")
                && refusal.contains("CHERRYQ_GATEWAY_INSECURE"), String.valueOf(refusal));
        assertTrue(GatewayVerticle.refusal(config(Map.of(host, "10.1.2.3"))) != null);
        assertNull(GatewayVerticle.refusal(config(Map.of(host, "127.0.0.1"))), "loopback");
        assertNull(GatewayVerticle.refusal(config(Map.of(host, "0.0.0.0", FleetConfig.GATEWAY_TOKEN.name(), "t"))));
        assertNull(GatewayVerticle.refusal(config(Map.of(host, "0.0.0.0", FleetConfig.GATEWAY_INSECURE.name(),
                "true"))), "explicitly insecure");
    }

    @Test
    void shouldNotStartTheGatewayOnAnOpenAddressWithoutAToken() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            // the verticles deploy before the server listens, so nothing is ever bound on 0.0.0.0 here
            Exception refused = assertThrows(Exception.class, () -> harness.start("gateway", GatewayMain.verticles(),
                    Map.of(FleetConfig.HTTP_HOST.name(), "0.0.0.0")));
            assertTrue(refused.getMessage().contains("refusing to serve the gateway on 0.0.0.0"), refused.toString());
        }
    }

    @Test
    void shouldRefillEachClientsBucketEvenlyAndForgetFullOnes() {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        SubmissionRateLimiter limiter = new SubmissionRateLimiter(3, now::get);
        assertEquals(0, limiter.acquire("a"));
        assertEquals(0, limiter.acquire("a"));
        assertEquals(0, limiter.acquire("a"));
        assertEquals(20, limiter.acquire("a"), "one submission comes back every 20 s at 3 a minute");
        assertEquals(0, limiter.acquire("b"), "another client has its own bucket");
        now.addAndGet(20_000_000_000L);
        assertEquals(0, limiter.acquire("a"));
        assertEquals(20, limiter.acquire("a"));
        now.addAndGet(60_000_000_000L);
        assertEquals(0, limiter.trackedClients(), "refilled buckets are forgotten");
    }

    @Test
    void shouldAnswer429ForTooManySubmissionsAndTooManyJobsInFlight() throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            Path data = harness.dataDirectory();
            Files.writeString(data.resolve("heldout.txt"), FleetHarness.sampleText(12, 3));
            HttpClient client = HttpClient.newHttpClient();
            // nothing but the gateway: a job stays queued, in flight
            String valid = new JsonObject().put("model", FleetHarness.demoModel().toString())
                    .put("eval_data", data.resolve("heldout.txt").toString()).put("method", "rtn").put("bits", 3)
                    .put("seq_len", 32).encode();
            ServiceHost oneJob = harness.start("gateway-one-job", GatewayMain.verticles(),
                    Map.of(FleetConfig.GATEWAY_MAX_ACTIVE_JOBS.name(), "1"));
            HttpResponse<String> first = post(client, oneJob, valid);
            assertEquals(202, first.statusCode(), first.body());
            awaitKnown(client, oneJob, new JsonObject(first.body()).getString("job_id"));
            HttpResponse<String> second = post(client, oneJob, valid.replace("\"bits\":3", "\"bits\":4"));
            assertEquals(429, second.statusCode(), second.body());
            assertTrue(second.body().contains("jobs are in flight"), second.body());
            assertEquals("60", second.headers().firstValue("Retry-After").orElse(""));
            harness.stop(oneJob);

            ServiceHost limited = harness.start("gateway-limited", GatewayMain.verticles(),
                    Map.of(FleetConfig.GATEWAY_SUBMITS_PER_MINUTE.name(), "2"));
            String invalid = "{\"model\": \"m\"}"; // counted even when refused for its content
            assertEquals(400, post(client, limited, invalid).statusCode());
            assertEquals(400, post(client, limited, invalid).statusCode());
            HttpResponse<String> third = post(client, limited, invalid);
            assertEquals(429, third.statusCode(), third.body());
            assertTrue(Long.parseLong(third.headers().firstValue("Retry-After").orElseThrow()) >= 1);
            assertTrue(FleetHarness.awaitMetrics(limited, "reason=\"rate_limited\"} 1.0")
                    .contains("reason=\"rate_limited\"} 1.0"));
        }
    }

    private static HttpResponse<String> post(HttpClient client, ServiceHost host, String body) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + host.port() + "/v1/jobs"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Waits (bounded) until the gateway's status table knows the job. */
    private static void awaitKnown(HttpClient client, ServiceHost host, String jobId) throws Exception {
        long deadline = System.nanoTime() + FleetHarness.WAIT.toNanos();
        while (client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + host.port() + "/v1/jobs/" + jobId))
                .GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode() != 200) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("job " + jobId + " never appeared in the status table");
            }
            Thread.sleep(50);
        }
    }
}
