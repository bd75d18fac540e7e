package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;

/**
 * A request over HTTP through every stage with everything in S3: the model and the texts are uploaded to the bucket
 * and named by {@code s3://} references, and every intermediate tensor and the report live in the store.
 */
@ExtendWith(FleetInfrastructure.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EndToEndIT {

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static GatewayApi api;

    @BeforeAll
    static void startFleet(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "end-to-end");
        JobSpecs.writeTexts(fleet.data());
        try (var s3 = fleet.s3Client(); Stream<Path> model = Files.list(ItFleet.models().resolve("demo"))) {
            for (Path file : model.toList()) {
                s3.putObject(r -> r.bucket(ItFleet.INPUT_BUCKET).key("inputs/demo/" + file.getFileName()), RequestBody.fromFile(file));
            }
            for (String text : List.of("calibration.txt", "train.txt", "heldout.txt")) {
                s3.putObject(r -> r.bucket(ItFleet.INPUT_BUCKET).key("inputs/text/" + text),
                        RequestBody.fromFile(fleet.data().resolve(text)));
            }
        }
        ServiceHost host = fleet.startAllInJvm(Map.of());
        api = new GatewayApi(host.port(), ItFleet.TOKEN);
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void shouldRunAnS3ReferencedRequestThroughEveryStageToItsReport() throws Exception {
        String bucket = "s3://" + ItFleet.INPUT_BUCKET;
        String request = JobSpecs.cherryq(",\"model\":\"" + bucket + "/inputs/demo\",\"eval_data\":\"" + bucket
                + "/inputs/text/heldout.txt\",\"calibration_data\":\"" + bucket + "/inputs/text/calibration.txt\","
                + "\"train_data\":\"" + bucket + "/inputs/text/train.txt\",\"baselines\":[\"fp\",\"rtn\"]");
        String jobId = api.submit(request);
        JsonNode status = api.awaitEnd(jobId, Duration.ofMinutes(4));
        assertEquals("JOB_STATE_COMPLETED", status.path("state").asText(), status.toString());
        JsonNode report = api.report(jobId);
        Map<String, Double> nll = new java.util.TreeMap<>();
        for (JsonNode row : report.path("results")) {
            nll.put(row.path("variant").asText(), row.path("mean_nll").asDouble());
        }
        assertEquals(List.of("cherryq", "fp", "rtn"), List.copyOf(nll.keySet()), report.toString());
        // 3 bits cost something over full precision; a broken pipeline would give ln(1024) = 6.93 or worse
        assertTrue(nll.get("fp") < nll.get("rtn") && nll.get("cherryq") < 6.0, nll.toString());
        try (ObjectStore store = fleet.store()) {
            List<String> keys = store.list("jobs/" + jobId + "/");
            for (String stage : List.of("planner", "scorer", "selector", "trainer", "evaluator")) {
                assertTrue(keys.stream().anyMatch(k -> k.startsWith("jobs/" + jobId + "/" + stage + "/")),
                        stage + " wrote to S3: " + keys);
            }
        }
        String metrics = api.metrics();
        for (String stage : List.of("planner", "scorer", "selector", "trainer", "evaluator")) {
            assertTrue(Metrics.value(metrics, "cherryq_tasks_completed_total", "stage=\"" + stage + "\"") >= 1,
                    stage + " completed tasks:\n" + metrics);
        }
    }
}
