package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.launcher.FleetStages;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole fleet in one process (the embedded mode's code path) behind the gateway's HTTP API, on a real broker:
 * a CherryQ job end to end against the one-process command, refused and failed requests, idempotent submission.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES) // a stalled job fails the test instead of hanging the build
class EmbeddedFleetTest {

    private static final String TOKEN = "test-gateway-token";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    static Path directory;
    static FleetHarness harness;
    static ServiceHost fleet;
    static GatewayClient client;
    static Path calibration;
    static Path training;
    static Path heldOut;

    @BeforeAll
    static void startFleet() throws Exception {
        harness = new FleetHarness(directory);
        calibration = Files.writeString(harness.dataDirectory().resolve("calibration.txt"), FleetHarness.sampleText(30, 1));
        training = Files.writeString(harness.dataDirectory().resolve("train.txt"), FleetHarness.sampleText(30, 2));
        heldOut = Files.writeString(harness.dataDirectory().resolve("heldout.txt"), FleetHarness.sampleText(10, 3));
        fleet = harness.start("embedded", FleetStages.verticles("all"), Map.of(FleetConfig.GATEWAY_TOKEN.name(), TOKEN));
        client = new GatewayClient("http://127.0.0.1:" + fleet.port(), TOKEN);
    }

    @AfterAll
    static void stopFleet() {
        harness.close();
    }

    private static String request(String extra) {
        return "{\"model\":\"demo\",\"eval_data\":\"heldout.txt\",\"calibration_data\":\"calibration.txt\","
                + "\"train_data\":\"train.txt\",\"bits\":3,\"group_size\":32,\"calibration_samples\":8,"
                + "\"calibration_shards\":2,\"steps\":4,\"segment_steps\":2,\"batch_size\":2,\"lr\":0.001,"
                + "\"seq_len\":32,\"seed\":5,\"eval_windows_per_shard\":8,\"eval_batch_size\":4,"
                + "\"baselines\":[\"fp\"]" + extra + "}";
    }

    private static String run(Object... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] strings = java.util.Arrays.stream(args).map(String::valueOf).toArray(String[]::new);
        int code = CherryqCommand.execute(strings, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, code, err.toString());
        return out.toString();
    }

    @Test
    void shouldCompleteACherryqJobWithTheSamePerplexityAsTheOneProcessCommand() throws Exception {
        String jobId = client.submit(request(""), null).path("job_id").asText();
        JsonNode last = client.watch(jobId, status -> { });
        assertEquals("JOB_STATE_COMPLETED", last.path("state").asText(), last.toString());
        JsonNode report = client.report(jobId);
        JsonNode rows = report.path("results");
        assertEquals("fp", rows.get(0).path("variant").asText());
        assertEquals("cherryq", rows.get(1).path("variant").asText());
        double fleetNll = rows.get(1).path("mean_nll").asDouble();
        // validation windows scored at the start and after every step (a quarter of 4 steps), over two segments
        JsonNode validation = rows.get(1).path("validation");
        assertEquals(5, validation.path("scores").size(), validation.toString());
        assertTrue(report.path("table_markdown").asText().contains("\ncherryq: "), report.path("table_markdown").asText());
        // every stage's tasks by worker, each once: 2 scoring shards, 2 training segments, in one process here
        JsonNode workers = report.path("workers");
        for (String stage : List.of("planner", "scorer", "selector", "trainer", "evaluator")) {
            assertEquals(1, workers.path(stage).size(), stage + " ran in this one process: " + workers);
            JsonNode worker = workers.path(stage).elements().next();
            assertTrue(worker.path("tasks").asInt() >= 1 && worker.path("peak_rss_mib").asDouble() > 0, stage + ": "
                    + worker);
        }
        assertEquals(2, workers.path("scorer").elements().next().path("tasks").asInt(), workers.toString());
        assertEquals(2, workers.path("trainer").elements().next().path("tasks").asInt(), workers.toString());
        assertEquals(1, workers.path("planner").elements().next().path("tasks").asInt(), workers.toString());

        // independent reference: the same job by the one-process commands
        Path quantized = directory.resolve("in-process");
        run("quantize", "--model", FleetHarness.demoModel(), "--method", "cherryq", "--bits", 3, "--group-size", 32,
                "--calib-text", calibration, "--calib-samples", 8, "--train-text", training, "--steps", 4,
                "--batch-size", 2, "--lr", "1e-3", "--seq-len", 32, "--seed", 5, "--out", quantized);
        JsonNode eval = Json.MAPPER.readTree(run("eval", "--model", quantized, "--text", heldOut, "--seq-len", 32,
                "--batch-size", 4, "--format", "json"));
        // equal up to float addition order (the selector sums Fisher partials shard by shard, which can flip a
        // near-tie between cherry candidates); 1e-3 relative is ten times tighter than the fleet's acceptance bound of 1%
        assertEquals(eval.path("mean_nll").asDouble(), fleetNll, 1e-3 * fleetNll,
                "the fleet and one process compute the same CherryQ model");
        assertEquals(eval.path("predicted_tokens").asLong(), rows.get(1).path("predicted_tokens").asLong());

        String metrics = scrape();
        for (String stage : List.of("planner", "scorer", "selector", "trainer", "evaluator", "gateway")) {
            assertTrue(metrics.matches("(?s).*cherryq_tasks_completed_total\\{stage=\"" + stage + "\"} [1-9].*"),
                    stage + " did work:\n" + metrics);
        }
        assertTrue(metrics.contains("cherryq_consumer_lag_records{stage=\"scorer\""), "lag is exported");
    }

    @Test
    void shouldFailInvalidAndHostileRequestsWithTheReason() throws Exception {
        // out of range: refused at the gateway with every field and its range, nothing published
        String reason = assertThrows(InvalidInputException.class,
                () -> client.submit(request(",\"bits\":9,\"cherry_fraction\":0.75,\"steps\":20000000"), null))
                .getMessage();
        assertTrue(reason.startsWith("gateway: 400: invalid request: ") && reason.contains("bits: 9 is out of range 2..8")
                && reason.contains("cherry_fraction: 0.75 is out of range 0..0.5")
                && reason.contains("steps: 20000000 is out of range 1..10000000"), reason);

        for (String hostile : List.of("../../etc/passwd", "/etc", "file:///etc/shadow")) {
            String jobId = client.submit(request("").replace("\"model\":\"demo\"", "\"model\":\"" + hostile + "\""),
                    null).path("job_id").asText();
            JsonNode status = client.watch(jobId, s -> { });
            assertEquals("JOB_STATE_FAILED", status.path("state").asText(), hostile);
            assertEquals("INVALID_REQUEST", status.path("error").path("code").asText());
            assertTrue(status.path("error").path("message").asText().contains("outside"), status.toString());
        }
    }

    @Test
    void shouldRefuseUnauthenticatedAndMalformedSubmissionsAtTheDoor() throws Exception {
        HttpClient http = HTTP;
        HttpResponse<String> anonymous = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fleet.port()
                + "/v1/jobs")).timeout(java.time.Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(request("")))
                .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, anonymous.statusCode());
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fleet.port()
                + "/ready")).timeout(java.time.Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "probes need no token");
        for (String body : List.of("{not json", "[1,2]", "{\"model\":\"demo\",\"eval_data\":\"x\",\"bitz\":3}",
                "{\"model\":\"demo\",\"eval_data\":\"x\",\"bits\":\"three\"}")) {
            dev.cherryq.core.InvalidInputException error = org.junit.jupiter.api.Assertions.assertThrows(
                    dev.cherryq.core.InvalidInputException.class, () -> client.submit(body, null), body);
            assertTrue(error.getMessage().startsWith("gateway: 400"), error.getMessage());
        }
        String huge = "{\"model\":\"" + "x".repeat(100_000) + "\"}";
        dev.cherryq.core.InvalidInputException tooLarge = org.junit.jupiter.api.Assertions.assertThrows(
                dev.cherryq.core.InvalidInputException.class, () -> client.submit(huge, null));
        assertTrue(tooLarge.getMessage().startsWith("gateway: 413"), tooLarge.getMessage());
        assertTrue(!scrape().contains(TOKEN), "the token never reaches the metrics");
    }

    @Test
    void shouldReturnTheSameJobForTheSameIdempotencyKey() throws Exception {
        // a job that fails fast in the planner (no such model) is enough to hold the key
        String missingModel = request("").replace("\"model\":\"demo\"", "\"model\":\"no-such-model\"");
        JsonNode first = client.submit(missingModel, "retry-key-1");
        String jobId = first.path("job_id").asText();
        client.watch(jobId, s -> { });
        JsonNode second = client.submit(missingModel, "retry-key-1");
        assertEquals(jobId, second.path("job_id").asText());
        assertTrue(second.path("duplicate").asBoolean(), second.toString());
        String conflict = assertThrows(InvalidInputException.class, () -> client.submit(missingModel.replace(
                "\"bits\":3", "\"bits\":4"), "retry-key-1")).getMessage();
        assertTrue(conflict.startsWith("gateway: 409") && conflict.contains(jobId), conflict);
    }

    private static String scrape() throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fleet.port() + "/metrics"))
                .timeout(java.time.Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
    }

    @Test
    void shouldPublishStraightToKafkaAndFollowTheJobFromItsEventsAlone() throws Exception {
        String body = request(",\"method\":\"qat\"");
        String first = run("publish", "--bootstrap", harness.bootstrapServers(), "--json", body, "--idempotency-key",
                "publish-1", "--follow");
        String jobId = first.lines().findFirst().orElseThrow();
        assertEquals(dev.cherryq.fleet.job.JobIds.of("publish-1", dev.cherryq.gateway.JobRequestJson.parse(body, "x")),
                jobId, "the id the gateway would give");
        assertTrue(first.contains("| qat |") && first.contains("| fp |"), first);
        // the same request again: the same job, already complete, its table read back from the events
        String again = run("publish", "--bootstrap", harness.bootstrapServers(), "--json", body, "--idempotency-key",
                "publish-1", "--follow");
        assertEquals(jobId, again.lines().findFirst().orElseThrow());
        assertEquals(first, again, "one job, the same table");
        assertEquals("JOB_STATE_COMPLETED", client.status(jobId).path("state").asText());
    }

    @Test
    void shouldPlanAJsonEncodedRequestEventAndDeadLetterOneThatBreaksARule() throws Exception {
        // proto3 JSON, as a producer without generated code writes it; the job id comes from the record key
        String json = "{\"model\": {\"uri\": \"demo\"}, \"method\": \"METHOD_RTN\", \"bits\": 3, \"groupSize\": 32, "
                + "\"scheme\": \"QUANT_SCHEME_SYM_FULL\", \"seqLen\": 32, \"eval\": {\"dataUri\": \"heldout.txt\", "
                + "\"windowsPerShard\": 8, \"batchSize\": 4, \"baselines\": [\"fp\"]}}";
        org.apache.kafka.common.header.internals.RecordHeaders headers =
                new org.apache.kafka.common.header.internals.RecordHeaders();
        headers.add(dev.cherryq.fleet.kafka.Topics.HEADER_CONTENT_TYPE, "application/json".getBytes(StandardCharsets.UTF_8));
        harness.sendRaw(dev.cherryq.fleet.kafka.Topics.REQUESTS, "job-json-1", json.getBytes(StandardCharsets.UTF_8),
                headers);
        JsonNode done = client.watch("job-json-1", status -> { });
        assertEquals("JOB_STATE_COMPLETED", done.path("state").asText(), done.toString());

        harness.sendRaw(dev.cherryq.fleet.kafka.Topics.REQUESTS, "job-json-2", json.replace("\"bits\": 3",
                "\"bits\": 9").getBytes(StandardCharsets.UTF_8), headers);
        JsonNode failed = client.watch("job-json-2", status -> { });
        assertEquals("JOB_STATE_FAILED", failed.path("state").asText(), failed.toString());
        assertTrue(failed.path("error").path("message").asText().contains("bits: 9 is out of range 2..8"),
                failed.toString());
        var dead = harness.awaitRecords(dev.cherryq.fleet.kafka.Topics.DEAD_LETTERS,
                records -> records.stream().anyMatch(r -> "job-json-2".equals(r.key())));
        var record = dead.stream().filter(r -> "job-json-2".equals(r.key())).findFirst().orElseThrow();
        String reason = new String(record.headers().lastHeader(dev.cherryq.fleet.kafka.Topics.HEADER_ERROR_MESSAGE)
                .value(), StandardCharsets.UTF_8);
        assertTrue(reason.contains("bits: 9 is out of range 2..8"), reason);
        // not JSON at all: dead-lettered as such, the consumer goes on
        harness.sendRaw(dev.cherryq.fleet.kafka.Topics.REQUESTS, "job-json-3", "{\"bits\": ".getBytes(
                StandardCharsets.UTF_8), headers);
        var broken = harness.awaitRecords(dev.cherryq.fleet.kafka.Topics.DEAD_LETTERS,
                records -> records.stream().anyMatch(r -> "job-json-3".equals(r.key())));
        String parse = new String(broken.stream().filter(r -> "job-json-3".equals(r.key())).findFirst().orElseThrow()
                .headers().lastHeader(dev.cherryq.fleet.kafka.Topics.HEADER_ERROR_MESSAGE).value(), StandardCharsets.UTF_8);
        assertTrue(parse.startsWith("not a valid proto3 JSON message"), parse);
    }
}
