package dev.cherryq.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.job.JobIds;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.testing.FleetHarness;
import dev.cherryq.planner.PlannerMain;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.ScoreTask;
import io.vertx.core.Deployable;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact idempotency: the job id comes from the Idempotency-Key and the canonical request; the same key with another
 * request is a 409 naming the job; two gateways that get the same request at once yield one planned job.
 */
class GatewayIdempotencyTest {

    private static final String BODY = "{\"model\": \"models/demo\", \"eval_data\": \"heldout.txt\", \"bits\": 3}";

    @TempDir
    Path directory;

    private static QuantizationRequest parse(String body) {
        return JobRequestJson.parse(body, "pending");
    }

    @Test
    void shouldDeriveOneJobIdFromTheKeyAndTheCanonicalRequest() {
        String id = JobIds.of("k", parse(BODY));
        // the same request written differently: field order, spacing, a default given explicitly
        String reordered = "{ \"bits\":3,\"eval_data\":\"heldout.txt\" , \"model\":\"models/demo\", \"group_size\": 128}";
        assertEquals(id, JobIds.of("k", parse(reordered)));
        assertNotEquals(id, JobIds.of("k", parse(BODY.replace("\"bits\": 3", "\"bits\": 4"))),
                "another request under the same key is another job");
        assertNotEquals(id, JobIds.of("k2", parse(BODY)), "another key");
        assertNotEquals(JobIds.of("", parse(BODY)),
                JobIds.of("", parse(BODY)), "no key: a fresh job each time");
    }

    @Test
    void shouldPlanOneJobWhenTwoGatewaysGetTheSameRequestAtOnceAndRefuseTheKeyForAnotherRequest()
            throws Exception {
        try (FleetHarness harness = new FleetHarness(directory)) {
            ServiceHost first = harness.start("gateway-a", withPlanner());
            ServiceHost second = harness.start("gateway-b", withPlanner());
            Path data = harness.dataDirectory();
            Files.writeString(data.resolve("calibration.txt"), FleetHarness.sampleText(40, 1));
            Files.writeString(data.resolve("heldout.txt"), FleetHarness.sampleText(12, 3));
            String body = new JsonObject().put("model", FleetHarness.demoModel().toString())
                    .put("eval_data", data.resolve("heldout.txt").toString())
                    .put("calibration_data", data.resolve("calibration.txt").toString())
                    .put("train_data", data.resolve("calibration.txt").toString()).put("bits", 3).put("group_size", 32)
                    .put("criterion", "impact").put("calibration_samples", 4).put("calibration_shards", 2)
                    .put("seq_len", 32).put("steps", 2).put("baselines", new io.vertx.core.json.JsonArray()).encode();
            HttpClient client = HttpClient.newHttpClient();
            CompletableFuture<HttpResponse<String>> toFirst = client.sendAsync(post(first, body, "same-key"),
                    HttpResponse.BodyHandlers.ofString());
            CompletableFuture<HttpResponse<String>> toSecond = client.sendAsync(post(second, body, "same-key"),
                    HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> a = toFirst.get();
            HttpResponse<String> b = toSecond.get();
            assertTrue(a.statusCode() == 202 || a.statusCode() == 200, a.body());
            assertTrue(b.statusCode() == 202 || b.statusCode() == 200, b.body());
            String jobId = new JsonObject(a.body()).getString("job_id");
            assertEquals(jobId, new JsonObject(b.body()).getString("job_id"), "one job id");

            // once the planners have handled every published copy: one plan, any second copy a no-op
            int published = a.statusCode() == 202 && b.statusCode() == 202 ? 2 : 1;
            awaitPlannerRecords(first, second, published);
            List<ScoreTask> tasks = harness.readAll(Topics.SCORE_TASKS, ScoreTask.parser());
            assertEquals(2, tasks.size(), "one plan (2 score shards) from " + published + " published requests");
            assertTrue(tasks.stream().allMatch(task -> task.getJobId().equals(jobId)));

            // the same key with another request, once the job is known: 409 naming the job
            awaitKnown(client, first, jobId);
            HttpResponse<String> conflict = client.send(post(first, body.replace("\"bits\":3", "\"bits\":4"),
                    "same-key"), HttpResponse.BodyHandlers.ofString());
            assertEquals(409, conflict.statusCode(), conflict.body());
            assertEquals(jobId, new JsonObject(conflict.body()).getString("job_id"));
            // and the same request again: the same job, not a new one
            HttpResponse<String> retry = client.send(post(second, body, "same-key"),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(jobId, new JsonObject(retry.body()).getString("job_id"), retry.body());
        }
    }

    /** A gateway and a planner in one host, as each of the two gateways had before the planner became a stage. */
    private static List<Function<FleetContext, Deployable>> withPlanner() {
        List<Function<FleetContext, Deployable>> verticles = new ArrayList<>(GatewayMain.verticles());
        verticles.addAll(PlannerMain.verticles());
        return verticles;
    }

    private static HttpRequest post(ServiceHost host, String body, String key) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + host.port() + "/v1/jobs"))
                .header("Idempotency-Key", key).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    /** Waits (bounded) until the two planners together have handled {@code records} requests. */
    private static void awaitPlannerRecords(ServiceHost first, ServiceHost second, int records)
            throws InterruptedException {
        long deadline = System.nanoTime() + FleetHarness.WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (plannerCompleted(first) + plannerCompleted(second) >= records) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("planners handled fewer than " + records + " requests");
    }

    private static double plannerCompleted(ServiceHost host) {
        String metrics = new String(host.context().metrics().scrape(), java.nio.charset.StandardCharsets.UTF_8);
        String prefix = "cherryq_tasks_completed_total{stage=\"planner\"} ";
        for (String line : metrics.split("\n")) {
            if (line.startsWith(prefix)) {
                return Double.parseDouble(line.substring(prefix.length()));
            }
        }
        return 0;
    }

    /** Waits (bounded) until the gateway's status table knows the job. */
    private static void awaitKnown(HttpClient client, ServiceHost host, String jobId) throws Exception {
        long deadline = System.nanoTime() + FleetHarness.WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> status = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + host.port() + "/v1/jobs/" + jobId)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (status.statusCode() == 200) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("job " + jobId + " never appeared in the status table");
    }
}
