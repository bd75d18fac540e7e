package dev.cherryq.fleet.storage;

import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * One small object per (job, stage) that says the stage's once-per-job step has published its outputs: the planner's
 * plan, the selector's and the evaluator's fan-ins. Written after the outputs are on Kafka (see
 * {@link dev.cherryq.fleet.task.TaskOutcome#afterPublish}), so a crash before it leaves the record to be redone, and
 * read first, so a replayed request or a late duplicate result changes nothing downstream.
 */
public final class CompletionMarkers {

    private static final String NAME = "completed";

    private final ObjectStore store;

    public CompletionMarkers(ObjectStore store) {
        this.store = store;
    }

    /** True once {@link #mark} ran for this job and stage. */
    public boolean isMarked(String jobId, Stage stage) throws IOException {
        return store.stat(ObjectKeys.of(jobId, stage, NAME), ObjectStore.MEDIA_JSON).isPresent();
    }

    /** Records that the stage's step for this job published its outputs; {@code detail} is kept for operators. */
    public void mark(String jobId, Stage stage, String detail) throws IOException {
        store.putBytes(ObjectKeys.of(jobId, stage, NAME), ("{\"completed\": \"" + detail.replace("\"", "'") + "\"}")
                .getBytes(StandardCharsets.UTF_8), ObjectStore.MEDIA_JSON);
    }
}
