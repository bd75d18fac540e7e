package dev.cherryq.fleet.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.config.ConfigKey;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.metrics.FleetMetrics;
import dev.cherryq.fleet.testing.FleetHarness;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/** docs/ARCHITECTURE.md's topic, metric and configuration tables say what the code does. */
class TopicsDocumentationTest {

    private static String architecture() throws Exception {
        return Files.readString(FleetHarness.repository().resolve("docs/ARCHITECTURE.md"));
    }

    @Test
    void shouldDocumentEveryTopicWithItsKeyTypePartitionsRetentionAndGroup() throws Exception {
        String doc = architecture();
        for (TopicSpec topic : Topics.ALL) {
            String retention = topic.compacted() ? "compacted" : topic.retentionMs() / 86_400_000L + " days";
            String row = "| `" + topic.name() + "` | " + topic.key() + " | " + topic.valueType() + " | "
                    + topic.partitions() + " | " + retention + " |";
            assertTrue(doc.contains(row), "missing or different row: " + row);
            if (topic.consumerGroup().startsWith("cherryq-")) {
                assertTrue(doc.contains("(`" + topic.consumerGroup() + "`)"), topic.consumerGroup());
            }
        }
        long rows = doc.lines().filter(line -> line.startsWith("| `cherryq.v1.")).count();
        assertEquals(Topics.ALL.size(), rows, "a documented topic the code does not have");
    }

    @Test
    void shouldDocumentEveryMetricAndSetting() throws Exception {
        String doc = architecture();
        for (String metric : FleetMetrics.NAMES) {
            assertTrue(doc.contains("| `" + metric + "` |"), "metric not documented: " + metric);
        }
        List<String> documented = doc.lines().filter(line -> line.startsWith("| `cherryq_")).toList();
        assertEquals(FleetMetrics.NAMES.size(), documented.size(), "a documented metric the code does not have");
        for (ConfigKey<?> key : FleetConfig.KEYS) {
            String shortName = key.name().startsWith("CHERRYQ_S3_") ? key.name().substring("CHERRYQ_S3".length())
                    : key.name();
            assertTrue(doc.contains("`" + key.name() + "`") || doc.contains("`" + shortName + "`"),
                    "setting not documented: " + key.name());
        }
    }
}
