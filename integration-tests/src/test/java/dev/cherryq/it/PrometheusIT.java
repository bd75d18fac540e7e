package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.gateway.GatewayMain;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import dev.cherryq.it.support.PrometheusServer;
import dev.cherryq.launcher.WorkerProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Prometheus (Debian's package, unpacked unprivileged; FACTS.md) scraping a fleet of separate processes:
 * every target is up, and every stage's task counters move while a job runs.
 */
@ExtendWith(FleetInfrastructure.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PrometheusIT {

    private static final Logger LOG = LoggerFactory.getLogger(PrometheusIT.class);

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static PrometheusServer prometheus;
    static GatewayApi api;

    @BeforeAll
    static void start(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "prometheus");
        JobSpecs.writeTexts(fleet.data());
        WorkerProcess gateway = fleet.startProcess("gateway", GatewayMain.class.getName(), List.of(), Map.of());
        Map<String, Integer> targets = new TreeMap<>();
        targets.put("gateway", gateway.port());
        targets.put("planner", fleet.startWorker("planner").port());
        for (String stage : List.of("scorer", "selector", "trainer", "evaluator")) {
            targets.put(stage, fleet.startWorker(stage).port());
        }
        prometheus = PrometheusServer.start(directory.resolve("prometheus"), targets);
        api = new GatewayApi(gateway.port(), ItFleet.TOKEN);
    }

    @AfterAll
    static void stop() {
        if (prometheus != null) {
            prometheus.close();
        }
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void shouldScrapeEveryStageAndSeeItsCountersMoveDuringAJob() throws Exception {
        Map<String, String> health = prometheus.awaitTargetsUp(6, Duration.ofSeconds(60));
        assertEquals(6, health.size(), health.toString());
        health.forEach((job, state) -> assertEquals("up", state, job));
        Map<String, Double> before = received();
        String jobId = api.submit(JobSpecs.cherryq(""));
        assertEquals("JOB_STATE_COMPLETED", api.awaitEnd(jobId, Duration.ofMinutes(3)).path("state").asText());
        Map<String, Double> after = new HashMap<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        List<String> stages = List.of("planner", "scorer", "selector", "trainer", "evaluator");
        while (System.nanoTime() < deadline) { // a scrape or two after the job
            after = received();
            Map<String, Double> current = after;
            if (stages.stream().allMatch(s -> current.getOrDefault(s, 0.0) > before.getOrDefault(s, 0.0))) {
                break;
            }
            Thread.sleep(500);
        }
        for (String stage : stages) {
            assertTrue(after.getOrDefault(stage, 0.0) > before.getOrDefault(stage, 0.0),
                    stage + " tasks received, as Prometheus saw them: before " + before + ", after " + after);
        }
        LOG.info("Prometheus {}: targets {}; cherryq_tasks_received_total by stage before {} and after the job {}",
                prometheus.version(), health, before, after);
    }

    /** sum by stage of cherryq_tasks_received_total, as Prometheus has it now. */
    private static Map<String, Double> received() throws Exception {
        Map<String, Double> values = new TreeMap<>();
        for (JsonNode sample : prometheus.query("sum by (stage) (cherryq_tasks_received_total)")) {
            values.put(sample.path("metric").path("stage").asText(), sample.path("value").get(1).asDouble());
        }
        return values;
    }
}
