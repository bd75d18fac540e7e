package dev.cherryq.fleet.storage;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The durable state of a fan-in: one small object per received result at a key fixed by (job, stage, shard). The
 * first result of a shard is kept and a duplicate changes nothing (a redelivered or replayed result, or one re-emitted
 * by a worker that found its output already stored, may differ in its timing fields); an out-of-order one simply
 * arrives earlier, and a restarted fan-in worker finds every entry its predecessor recorded. The fan-in is complete when the entries number the expected
 * count; entries come back sorted by shard, so merging them is deterministic whatever the arrival order.
 */
public final class FanInLedger {

    private final ObjectStore store;

    public FanInLedger(ObjectStore store) {
        this.store = store;
    }

    /** Records a shard's result unless one is already recorded; true when this call wrote it. */
    public boolean record(String jobId, Stage stage, String shardName, Message result) throws IOException {
        String key = prefix(jobId, stage) + shardName;
        if (store.stat(key, ObjectStore.MEDIA_PROTOBUF).isPresent()) {
            return false;
        }
        store.putBytes(key, result.toByteArray(), ObjectStore.MEDIA_PROTOBUF);
        return true;
    }

    /** Every recorded result, sorted by shard name. */
    public <T extends Message> List<T> entries(String jobId, Stage stage, Parser<T> parser) throws IOException {
        return entries(jobId, stage, "", parser);
    }

    /**
     * The recorded results whose shard names start with {@code namePrefix}, sorted by shard name: for a stage that
     * keeps more than one fan-in (the selector: scoring shards, then selection groups).
     */
    public <T extends Message> List<T> entries(String jobId, Stage stage, String namePrefix, Parser<T> parser)
            throws IOException {
        List<T> entries = new ArrayList<>();
        for (String key : store.list(prefix(jobId, stage) + namePrefix)) {
            byte[] bytes = store.readIfExists(key).orElse(null);
            if (bytes == null) {
                continue;
            }
            try {
                entries.add(parser.parseFrom(bytes));
            } catch (InvalidProtocolBufferException e) {
                throw new IntegrityException(key + ": unreadable fan-in ledger entry: " + e.getMessage());
            }
        }
        return entries;
    }

    private static String prefix(String jobId, Stage stage) {
        return ObjectKeys.of(jobId, stage, "ledger/");
    }
}
