package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.it.infra.FleetInfrastructure;
import dev.cherryq.it.infra.Infrastructure;
import dev.cherryq.it.support.GatewayApi;
import dev.cherryq.it.support.ItFleet;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Twenty small jobs submitted at once: all complete, none is lost or duplicated, and /metrics agrees. */
@ExtendWith(FleetInfrastructure.class)
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class LoadIT {

    private static final Logger LOG = LoggerFactory.getLogger(LoadIT.class);
    private static final int JOBS = 20;

    @TempDir
    static Path directory;
    static ItFleet fleet;
    static GatewayApi api;

    @BeforeAll
    static void startFleet(Infrastructure infrastructure) throws Exception {
        fleet = new ItFleet(infrastructure, directory, "load");
        JobSpecs.writeTexts(fleet.data());
        ServiceHost host = fleet.startAllInJvm(Map.of());
        api = new GatewayApi(host.port(), ItFleet.TOKEN);
        fleet.startWorker("stages"); // a second worker of every stage, in its own process
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void shouldCompleteTwentyConcurrentJobsWithNoneLostOrDuplicated() throws Exception {
        String before = api.metrics();
        long started = System.nanoTime();
        ExecutorService clients = Executors.newFixedThreadPool(JOBS);
        List<Future<String>> submissions = new ArrayList<>();
        for (int i = 0; i < JOBS; i++) {
            int seed = i;
            submissions.add(clients.submit(() -> api.submit(JobSpecs.tiny(",\"seed\":" + seed))));
        }
        Set<String> jobIds = new HashSet<>();
        for (Future<String> submission : submissions) {
            jobIds.add(submission.get(60, TimeUnit.SECONDS));
        }
        clients.shutdown();
        assertEquals(JOBS, jobIds.size(), "twenty distinct job ids");
        for (String jobId : jobIds) {
            JsonNode status = api.awaitEnd(jobId, Duration.ofMinutes(6));
            assertEquals("JOB_STATE_COMPLETED", status.path("state").asText(), status.toString());
            api.report(jobId);
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        JsonNode listed = api.get("/v1/jobs").json();
        int seen = 0;
        for (JsonNode job : listed.path("jobs")) {
            if (jobIds.contains(job.path("job_id").asText())) {
                seen++;
            }
        }
        assertEquals(JOBS, seen, "each job is listed exactly once by the gateway");
        // the gateway refreshes its job-state gauge every 2 s: wait (bounded) for it to take in the last jobs
        String after = api.metrics();
        double completed = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            after = api.metrics();
            completed = Metrics.value(after, "cherryq_jobs", "state=\"completed\"")
                    - Metrics.value(before, "cherryq_jobs", "state=\"completed\"");
            if (completed >= JOBS) {
                break;
            }
            Thread.sleep(250);
        }
        Thread.sleep(2500); // one more refresh: a duplicate would show up now
        after = api.metrics();
        completed = Metrics.value(after, "cherryq_jobs", "state=\"completed\"")
                - Metrics.value(before, "cherryq_jobs", "state=\"completed\"");
        assertEquals(JOBS, completed, 0.0, "the gateway's completed-jobs gauge grew by exactly " + JOBS);
        double plannerTasks = Metrics.value(after, "cherryq_tasks_completed_total", "stage=\"planner\"")
                - Metrics.value(before, "cherryq_tasks_completed_total", "stage=\"planner\"");
        assertEquals(JOBS, plannerTasks, 0.0, "one planning task per job, no more");
        LOG.info("{} concurrent jobs completed in {} s; none lost, none duplicated", JOBS, String.format("%.1f", seconds));
    }
}
