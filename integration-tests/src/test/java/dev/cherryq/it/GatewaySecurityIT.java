package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.gateway.GatewayMain;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import dev.cherryq.launcher.WorkerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway as deployed (its own process, {@code GatewayMain}) with a bearer token, a request size limit and JSON
 * validation; a gateway without a token says so loudly; no secret reaches a log or a metric.
 */
@ExtendWith(FleetInfrastructure.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class GatewaySecurityIT {

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static WorkerProcess gateway;
    static WorkerProcess planner;
    static WorkerProcess stages;
    static GatewayApi api;

    @BeforeAll
    static void startFleet(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "security");
        JobSpecs.writeTexts(fleet.data());
        gateway = fleet.startProcess("gateway", GatewayMain.class.getName(), List.of(),
                Map.of(FleetConfig.MAX_REQUEST_BYTES.name(), "8192"));
        planner = fleet.startWorker("planner");
        stages = fleet.startWorker("stages");
        api = new GatewayApi(gateway.port(), ItFleet.TOKEN);
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void shouldRequireTheBearerTokenOnTheApiButNotOnProbes() throws Exception {
        GatewayApi anonymous = new GatewayApi(gateway.port(), null);
        assertEquals(401, anonymous.post("/v1/jobs", JobSpecs.tiny(""), null).status());
        assertEquals(401, anonymous.post("/v1/jobs", JobSpecs.tiny(""), "wrong-token").status());
        assertEquals(401, anonymous.get("/v1/jobs").status());
        assertEquals(200, anonymous.get("/ready").status(), "probes need no token");
        assertEquals(200, anonymous.get("/metrics").status(), "scrapes need no token");
    }

    @Test
    void shouldRefuseOversizedAndInvalidJsonBodies() throws Exception {
        String huge = JobSpecs.tiny(",\"comment_padding\":\"" + "x".repeat(10_000) + "\"");
        assertEquals(413, api.post("/v1/jobs", huge, ItFleet.TOKEN).status());
        for (String body : List.of("{not json", "[1,2]", "{\"model\":\"demo\",\"eval_data\":\"x\",\"bitz\":3}",
                "{\"model\":\"demo\",\"eval_data\":\"x\",\"bits\":\"three\"}", "")) {
            GatewayApi.Reply reply = api.post("/v1/jobs", body, ItFleet.TOKEN);
            assertEquals(400, reply.status(), body + " -> " + reply.body());
            assertTrue(reply.body().contains("error"), reply.body());
        }
        String metrics = api.metrics();
        assertTrue(Metrics.sum(metrics, "cherryq_gateway_rejected_requests_total") >= 6, metrics);
    }

    @Test
    void shouldWarnLoudlyWhenNoTokenIsConfigured() throws Exception {
        Map<String, String> noToken = new HashMap<>();
        noToken.put(FleetConfig.GATEWAY_TOKEN.name(), null);
        WorkerProcess open = fleet.startProcess("open-gateway", GatewayMain.class.getName(), List.of(), noToken);
        String log = Files.readString(open.log());
        assertTrue(log.contains("GATEWAY AUTHENTICATION IS OFF"), log);
        // a valid request (it fails later, in the planner: no such model) is accepted with no token: it really is open
        assertEquals(202, new GatewayApi(open.port(), null).post("/v1/jobs", JobSpecs.tiny(
                ",\"model\":\"no-such-model\""), null).status(), "and it really is open");
    }

    @Test
    void shouldKeepEverySecretOutOfLogsAndMetrics() throws Exception {
        String jobId = api.submit(JobSpecs.tiny(""));
        assertEquals("JOB_STATE_COMPLETED", api.awaitEnd(jobId, Duration.ofMinutes(3)).path("state").asText());
        List<String> secrets = List.of(ItFleet.TOKEN, fleet.infrastructure().s3().secretKey());
        for (WorkerProcess process : List.of(gateway, planner, stages)) {
            String log = Files.readString(process.log());
            String metrics = process.metrics();
            assertTrue(log.contains("CHERRYQ_S3_SECRET_ACCESS_KEY=<redacted>"), "the key is listed, redacted:\n" + log);
            for (String secret : secrets) {
                assertFalse(log.contains(secret), process.name() + "'s log holds a secret");
                assertFalse(metrics.contains(secret), process.name() + "'s metrics hold a secret");
            }
        }
    }
}
