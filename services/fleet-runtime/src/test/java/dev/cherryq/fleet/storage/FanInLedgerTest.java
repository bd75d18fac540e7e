package dev.cherryq.fleet.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.proto.v1.ScoreResult;
import dev.cherryq.proto.v1.Stage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A fan-in ledger keeps each shard's first result: duplicates, even with other timing fields, change nothing. */
class FanInLedgerTest {

    @TempDir
    Path directory;

    @Test
    void shouldKeepTheFirstResultOfAShardAndSortEntriesByShard() throws Exception {
        try (ObjectStore store = new FilesystemObjectStore(directory)) {
            FanInLedger ledger = new FanInLedger(store);
            ScoreResult first = ScoreResult.newBuilder().setJobId("job-1").setShard(1).setShardCount(2)
                    .setSeconds(1.5).build();
            ScoreResult reemitted = first.toBuilder().setSeconds(0).build();
            ScoreResult other = ScoreResult.newBuilder().setJobId("job-1").setShard(0).setShardCount(2).build();
            assertTrue(ledger.record("job-1", Stage.STAGE_SELECTOR, "score-00001", first));
            assertFalse(ledger.record("job-1", Stage.STAGE_SELECTOR, "score-00001", reemitted), "a duplicate is not written");
            assertTrue(ledger.record("job-1", Stage.STAGE_SELECTOR, "score-00000", other));
            assertEquals(List.of(other, first), ledger.entries("job-1", Stage.STAGE_SELECTOR, ScoreResult.parser()));
        }
    }
}
