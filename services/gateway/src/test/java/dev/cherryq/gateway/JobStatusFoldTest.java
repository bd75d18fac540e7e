package dev.cherryq.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.proto.v1.ErrorRecord;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobResult;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.Stage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class JobStatusFoldTest {

    private static JobEvent event(dev.cherryq.fleet.task.Outgoing outgoing) {
        return ((JobEvent) outgoing.message()).toBuilder().setAtUnixMs(1000).build();
    }

    private static JobStatus fold(List<JobEvent> events) {
        JobStatus status = null;
        for (JobEvent event : events) {
            status = JobStatusFold.apply(status, event);
        }
        return status;
    }

    @Test
    void shouldCountDistinctShardsSoDuplicatedAndReorderedProgressChangesNothing() {
        List<JobEvent> events = new ArrayList<>();
        for (int shard = 0; shard < 4; shard++) {
            events.add(event(JobEvents.progress("job-a", Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, shard, 4, "")));
        }
        JobStatus inOrder = fold(events);
        events.add(events.get(2));
        events.add(events.get(0));
        Collections.shuffle(events, new Random(1));
        JobStatus shuffled = fold(events);
        assertEquals(4, shuffled.getStages(0).getDone());
        assertEquals(4, shuffled.getStages(0).getTotal());
        assertEquals(inOrder, shuffled);
        assertEquals(JobState.JOB_STATE_SCORING, shuffled.getState());
    }

    @Test
    void shouldOnlyMoveForwardAndKeepFinalStates() {
        JobStatus status = fold(List.of(
                event(JobEvents.state("job-b", Stage.STAGE_SELECTOR, JobState.JOB_STATE_TRAINING, Stage.STAGE_TRAINER,
                        2, "")),
                event(JobEvents.progress("job-b", Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, 3, 4, "late"))));
        assertEquals(JobState.JOB_STATE_TRAINING, status.getState(), "a late scoring event does not move it back");
        JobStatus failed = JobStatusFold.apply(status, event(JobEvents.failed("job-b", ErrorRecord.newBuilder()
                .setStage(Stage.STAGE_TRAINER).setCode("INTEGRITY").build())));
        assertEquals(JobState.JOB_STATE_FAILED, failed.getState());
        JobStatus after = JobStatusFold.apply(failed, event(JobEvents.completed("job-b", Stage.STAGE_EVALUATOR,
                JobResult.getDefaultInstance())));
        assertEquals(failed, after, "FAILED is final");
    }
}
