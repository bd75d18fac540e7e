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

    private static JobEvent task(Stage stage, String worker, String record, double seconds, double peakMib,
            boolean deduplicated) {
        return JobEvent.newBuilder().setJobId("job-w").setStage(stage).setAtUnixMs(1000)
                .setTask(dev.cherryq.proto.v1.TaskRecord.newBuilder().setWorker(worker).setTask(record)
                        .setSeconds(seconds).setCpuMs((long) (seconds * 500)).setPeakRssMib(peakMib)
                        .setDeduplicated(deduplicated))
                .build();
    }

    @Test
    void shouldCountEachWorkersTasksOncePerRecordWithTheirLargestPeak() {
        List<JobEvent> events = new ArrayList<>(List.of(
                task(Stage.STAGE_SCORER, "11/host", "score-tasks/0@4", 2.0, 300, false),
                task(Stage.STAGE_SCORER, "11/host", "score-tasks/3@9", 3.0, 350, false),
                task(Stage.STAGE_SCORER, "22/host", "score-tasks/1@5", 4.0, 280, false),
                task(Stage.STAGE_TRAINER, "11/host", "train-tasks/0@1", 10.0, 900, false),
                // the same record handled again after its output existed: memory counts, the task does not
                task(Stage.STAGE_SCORER, "22/host", "score-tasks/1@6", 0.1, 290, true)));
        events.add(events.get(1)); // a duplicated event
        Collections.shuffle(events, new Random(3));
        JobStatus status = fold(events);
        assertEquals(3, status.getWorkersCount(), "scorer on two workers, trainer on one");
        for (dev.cherryq.proto.v1.WorkerTasks row : status.getWorkersList()) {
            String key = row.getStage() + " " + row.getWorker();
            switch (key) {
                case "STAGE_SCORER 11/host" -> {
                    assertEquals(2, row.getTasksCount());
                    assertEquals(5.0, row.getSeconds(), 1e-9);
                    assertEquals(2500, row.getCpuMs(), "half a core over 5 s");
                    assertEquals(350, row.getPeakRssMib(), 1e-9);
                }
                case "STAGE_SCORER 22/host" -> {
                    assertEquals(1, row.getTasksCount());
                    assertEquals(4.0, row.getSeconds(), 1e-9);
                    assertEquals(290, row.getPeakRssMib(), 1e-9);
                }
                case "STAGE_TRAINER 11/host" -> assertEquals(1, row.getTasksCount());
                default -> throw new AssertionError("unexpected row " + key);
            }
        }
        var json = dev.cherryq.fleet.job.WorkerTable.json(status.getWorkersList());
        assertEquals(2, json.path("scorer").path("11/host").path("tasks").asInt());
        assertEquals(1, json.path("trainer").path("11/host").path("tasks").asInt());
        var both = dev.cherryq.fleet.job.WorkerTable.combine(List.of(json, json));
        assertEquals(4, both.path("scorer").path("11/host").path("tasks").asInt(), "two jobs' tasks add up");
        assertEquals(350, both.path("scorer").path("11/host").path("peak_rss_mib").asDouble(), 1e-9,
                "the peak is the largest, not a sum");
    }
}
