package dev.cherryq.fleet.kafka;

import java.util.Map;

/** One topic: name, key, value type, partitions, retention or compaction, who writes and who reads it. */
public record TopicSpec(String name, String key, String valueType, int partitions, boolean compacted, long retentionMs,
        String producers, String consumerGroup, String description) {

    /** Topic-level configs for creation. */
    public Map<String, String> configs() {
        return compacted
                ? Map.of("cleanup.policy", "compact", "min.compaction.lag.ms", "0", "segment.ms", "3600000")
                : Map.of("cleanup.policy", "delete", "retention.ms", Long.toString(retentionMs));
    }
}
