package dev.cherryq.fleet.task;

import com.google.protobuf.Message;
import dev.cherryq.fleet.kafka.TopicSpec;

/**
 * A message a task produces. {@code spreadIndex} (e.g. the shard) picks the partition as spreadIndex mod the
 * topic's partition count, so one job's shards reach different workers; null = partition by key.
 */
public record Outgoing(TopicSpec topic, String key, Message message, Integer spreadIndex) {

    public static Outgoing byKey(TopicSpec topic, String key, Message message) {
        return new Outgoing(topic, key, message, null);
    }

    public static Outgoing spread(TopicSpec topic, String key, Message message, int spreadIndex) {
        return new Outgoing(topic, key, message, spreadIndex);
    }
}
