package dev.cherryq.fleet.storage;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The durable state of a fan-in: one small object per received result at a key fixed by (job, stage, shard). A
 * duplicate result overwrites its own entry, an out-of-order one simply arrives earlier, and a restarted fan-in
 * worker finds every entry its predecessor recorded. The fan-in is complete when the entries number the expected
 * count; entries come back sorted by shard, so merging them is deterministic whatever the arrival order.
 */
public final class FanInLedger {

    private final ObjectStore store;

    public FanInLedger(ObjectStore store) {
        this.store = store;
    }

    public void record(String jobId, Stage stage, String shardName, Message result) throws IOException {
        store.putBytes(prefix(jobId, stage) + shardName, result.toByteArray(), ObjectStore.MEDIA_PROTOBUF);
    }

    /** Every recorded result, sorted by shard name. */
    public <T extends Message> List<T> entries(String jobId, Stage stage, Parser<T> parser) throws IOException {
        List<T> entries = new ArrayList<>();
        for (String key : store.list(prefix(jobId, stage))) {
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
