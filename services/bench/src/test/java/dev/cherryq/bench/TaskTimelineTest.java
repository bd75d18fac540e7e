package dev.cherryq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.StageProgress;
import dev.cherryq.proto.v1.TaskTiming;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The timeline's spans, busy times and byte shares against figures worked out by hand for a made-up job. */
class TaskTimelineTest {

    private static JobEvent state(JobState state, long at) {
        return JobEvent.newBuilder().setState(state).setAtUnixMs(at).build();
    }

    private static JobEvent task(Stage stage, JobState state, int index, String worker, long started, long inputs,
            long finished, long bytes) {
        return JobEvent.newBuilder().setStage(stage).setState(state).setAtUnixMs(finished + 5)
                .setProgress(StageProgress.newBuilder().addCompleted(index))
                .setTiming(TaskTiming.newBuilder().setWorker(worker).setStartedUnixMs(started)
                        .setComputeStartedUnixMs(inputs).setFinishedUnixMs(finished).setBytesRead(bytes)
                        .setCpuMs((finished - started) / 2))
                .build();
    }

    @Test
    void shouldSplitScoringAndSelectionFromTheTaskStamps() {
        List<JobEvent> events = List.of(state(JobState.JOB_STATE_SCORING, 1000),
                task(Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, 0, "a", 1010, 1100, 2000, 0),
                task(Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, 1, "b", 1020, 1120, 2100, 0),
                task(Stage.STAGE_SCORER, JobState.JOB_STATE_SCORING, 2, "a", 2010, 2100, 3000, 0),
                state(JobState.JOB_STATE_SELECTING, 3050),
                task(Stage.STAGE_SELECTOR, JobState.JOB_STATE_SELECTING, 0, "s", 3060, 3080, 3100, 300),
                task(Stage.STAGE_SELECTOR, JobState.JOB_STATE_SELECTING, 1, "s", 3110, 3130, 3150, 250),
                state(JobState.JOB_STATE_TRAINING, 3200));
        TaskTimeline timeline = TaskTimeline.of(events, 600);
        assertEquals(2000, timeline.scoringSpanMs(), "from SCORING at 1000 to the last partial at 3000");
        assertEquals(300, timeline.busiestTaskBytes());
        assertEquals(550, timeline.busiestWorkerBytes(), "one selector process ran both layer tasks");
        String md = timeline.markdown();
        // waited from a's previous finish; half a core
        assertTrue(md.contains("| score 2 | a | 1010 | 10 | 90 | 900 | 5 | 0.50 |"), md);
        assertTrue(md.contains("a 2, 1.98, 0.99; b 1, 1.08, 0.54;"), md); // busy: 990 + 990 ms on a, 1080 ms on b
        assertTrue(md.contains("hand-off (last partial stored to SELECTING) 0.05 s"), md);
        assertTrue(md.contains("selection (SELECTING to TRAINING, 2 layer tasks) 0.15 s"), md);
        assertTrue(md.contains("(0.500 of them, target <= 1/2 = 0.500: met)"), md);
    }
}
