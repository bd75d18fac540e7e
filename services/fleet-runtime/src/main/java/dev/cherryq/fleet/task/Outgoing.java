package dev.cherryq.fleet.task;

import com.google.protobuf.Message;
import dev.cherryq.fleet.kafka.TopicSpec;

/**
 * A message a task produces. {@code spreadIndex} (the job's hash plus the shard) picks the partition
 * ({@link #partition}), so one job's shards reach different workers; null = partition by key.
 */
public record Outgoing(TopicSpec topic, String key, Message message, Integer spreadIndex) {

    /**
     * The partition of a spread index: {@code spreadIndex x stride mod partitions}, the stride the largest number up
     * to half the partitions with no common factor with them (5 of 12; 1 of 6), so consecutive shards land half the
     * topic apart and still each on its own partition. Consumers of a group hold contiguous runs of partitions (the
     * cooperative sticky assignor did: one of two scorers held 6 consecutive partitions of 12), and with a stride of 1
     * 8 consecutive shards split 6/2 or worse between two workers for some job ids; with 5, at worst 5/3.
     */
    public static int partition(int spreadIndex, int partitions) {
        int stride = 1;
        for (int candidate = partitions / 2; candidate > 1; candidate--) {
            if (java.math.BigInteger.valueOf(candidate).gcd(java.math.BigInteger.valueOf(partitions)).intValue() == 1) {
                stride = candidate;
                break;
            }
        }
        return (int) Math.floorMod((long) spreadIndex * stride, (long) partitions);
    }

    public static Outgoing byKey(TopicSpec topic, String key, Message message) {
        return new Outgoing(topic, key, message, null);
    }

    public static Outgoing spread(TopicSpec topic, String key, Message message, int spreadIndex) {
        return new Outgoing(topic, key, message, spreadIndex);
    }
}
