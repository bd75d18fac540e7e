package dev.cherryq.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.testing.FleetHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet as the benchmarks start one: the gateway in this JVM on the embedded broker, a stage worker as a separate
 * process. Both get ready, the worker serves its own port with the fleet's settings, and closing the fleet ends it.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LocalFleetLaunchTest {

    @TempDir
    Path directory;

    @Test
    void shouldStartAWorkerProcessOnTheEmbeddedBrokerAndStopItWithTheFleet() throws Exception {
        Path text = Files.writeString(Files.createDirectories(directory.resolve("data")).resolve("text.txt"),
                FleetHarness.sampleText(2, 1));
        Path root = directory.resolve("fleet");
        WorkerProcess worker;
        try (EmbeddedFleet fleet = EmbeddedFleet.start("test-gateway", "gateway", root, FleetHarness.demoModel(),
                List.of(text), Map.of("CHERRYQ_THREADS", "1"))) {
            worker = fleet.startWorker("selector", 1);
            fleet.awaitReady(Duration.ofSeconds(60));
            worker.awaitReady(Duration.ofSeconds(120));
            assertTrue(worker.port() > 0, "the worker's port is read from its log");
            assertNotEquals(fleet.host().port(), worker.port());
            assertEquals(root.resolve("logs/selector-1.log"), worker.log());
            String log = Files.readString(worker.log());
            assertTrue(log.contains("CHERRYQ_KAFKA_BOOTSTRAP_SERVERS=" + fleet.bootstrapServers()), log);
            assertTrue(log.contains("CHERRYQ_WORK_DIR=" + root.resolve("work-selector-1")), log);
            assertTrue(worker.metrics().contains("jvm_"), "the worker serves its own /metrics");
            FleetConfig config = fleet.config();
            assertEquals(root.resolve("store").toString(), fleet.settings().get(FleetConfig.STORE_DIR.name()));
            assertEquals(FleetHarness.demoModel().getParent().toString(), config.modelRoots().get(0).toString());
        }
        assertFalse(worker.process().isAlive(), "closing the fleet stops its worker processes");
    }
}
