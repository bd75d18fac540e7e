package dev.cherryq.gateway;

import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.Stage;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Folds job events ({@link JobStatusFold}) into the compacted job-status topic. Consumes job-events in the
 * gateway's group, so each job's events (keyed by job id) are folded by exactly one gateway replica, in order. Its
 * starting point for a job is the last status it wrote, or the status table's.
 */
public final class JobStatusFolder implements StageHandler<JobEvent> {

    private final JobStatusTable table;
    private final Map<String, JobStatus> written = new ConcurrentHashMap<>();

    public JobStatusFolder(JobStatusTable table) {
        this.table = table;
    }

    @Override
    public StageBinding<JobEvent> binding() {
        return new StageBinding<>(Stage.STAGE_GATEWAY, Topics.JOB_EVENTS, JobEvent.parser(),
                JobEvent::getJobId);
    }

    @Override
    public boolean usesCompute() {
        return false;
    }

    @Override
    public boolean reportsTasks() {
        return false; // it folds job events: a task event for each would feed the topic it reads
    }

    @Override
    public TaskOutcome handle(JobEvent event) {
        JobStatus current = written.getOrDefault(event.getJobId(), table.get(event.getJobId()).orElse(null));
        JobStatus next = JobStatusFold.apply(current, event);
        if (next.equals(current)) {
            return TaskOutcome.duplicate(List.of());
        }
        written.put(next.getJobId(), next);
        return TaskOutcome.of(List.of(Outgoing.byKey(Topics.JOB_STATUS, next.getJobId(), next)), 0);
    }
}
