package dev.cherryq.gateway;

import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.StageProgress;
import dev.cherryq.proto.v1.TaskRecord;
import dev.cherryq.proto.v1.WorkerTasks;
import java.util.TreeSet;

/**
 * Folds job events into a job's status. Idempotent and order-tolerant where it matters: states only move forward,
 * COMPLETED and FAILED are final, and stage progress counts distinct completed shards, so a duplicated event
 * changes nothing.
 */
public final class JobStatusFold {

    private JobStatusFold() {}

    public static JobStatus apply(JobStatus current, JobEvent event) {
        JobStatus.Builder status = current != null ? current.toBuilder()
                : JobStatus.newBuilder().setJobId(event.getJobId()).setState(JobState.JOB_STATE_QUEUED)
                        .setCreatedUnixMs(event.getAtUnixMs());
        if (isFinal(status.getState())) {
            return status.build();
        }
        if (event.hasRequest()) {
            status.setRequest(event.getRequest()).setIdempotencyKey(event.getRequest().getIdempotencyKey());
        }
        JobState next = event.getState();
        if (next == JobState.JOB_STATE_FAILED) {
            status.setState(next).setStage(event.getStage()).setError(event.getError());
        } else if (next == JobState.JOB_STATE_COMPLETED) {
            status.setState(next).setStage(event.getStage()).setResult(event.getResult());
        } else if (next != JobState.JOB_STATE_UNSPECIFIED && next != JobState.UNRECOGNIZED
                && next.getNumber() > status.getState().getNumber()) {
            status.setState(next).setStage(event.getStage());
        }
        if (event.hasProgress()) {
            mergeProgress(status, event.getProgress());
        }
        if (event.hasTask()) {
            mergeTask(status, event.getStage(), event.getTask());
        }
        status.setUpdatedUnixMs(Math.max(status.getUpdatedUnixMs(), event.getAtUnixMs()));
        return status.build();
    }

    public static boolean isFinal(JobState state) {
        return state == JobState.JOB_STATE_COMPLETED || state == JobState.JOB_STATE_FAILED;
    }

    /**
     * A worker's finished task into its stage's row: counted once by its record (a duplicated event, or the same
     * record handled again by the same worker, adds nothing); a deduplicated task (its output existed) counts no task
     * and no time, but its memory does.
     */
    private static void mergeTask(JobStatus.Builder status, Stage stage, TaskRecord task) {
        int row = -1;
        for (int i = 0; i < status.getWorkersCount() && row < 0; i++) {
            if (status.getWorkers(i).getStage() == stage && status.getWorkers(i).getWorker().equals(task.getWorker())) {
                row = i;
            }
        }
        WorkerTasks.Builder worker = row >= 0 ? status.getWorkers(row).toBuilder()
                : WorkerTasks.newBuilder().setStage(stage).setWorker(task.getWorker()).setPeakRssMib(Double.NaN);
        if (!task.getDeduplicated() && !worker.getTasksList().contains(task.getTask())) {
            worker.addTasks(task.getTask()).setSeconds(worker.getSeconds() + task.getSeconds())
                    .setCpuMs(worker.getCpuMs() + Math.max(0, task.getCpuMs()));
        }
        if (!Double.isNaN(task.getPeakRssMib())
                && (Double.isNaN(worker.getPeakRssMib()) || task.getPeakRssMib() > worker.getPeakRssMib())) {
            worker.setPeakRssMib(task.getPeakRssMib());
        }
        if (row >= 0) {
            status.setWorkers(row, worker);
        } else {
            status.addWorkers(worker);
        }
    }

    private static void mergeProgress(JobStatus.Builder status, StageProgress update) {
        for (int i = 0; i < status.getStagesCount(); i++) {
            StageProgress existing = status.getStages(i);
            if (existing.getStage() == update.getStage()) {
                TreeSet<Integer> completed = new TreeSet<>(existing.getCompletedList());
                completed.addAll(update.getCompletedList());
                status.setStages(i, existing.toBuilder().clearCompleted().addAllCompleted(completed)
                        .setDone(completed.size()).setTotal(Math.max(existing.getTotal(), update.getTotal()))
                        .setDetail(update.getDetail().isEmpty() ? existing.getDetail() : update.getDetail()));
                return;
            }
        }
        TreeSet<Integer> completed = new TreeSet<>(update.getCompletedList());
        status.addStages(update.toBuilder().clearCompleted().addAllCompleted(completed).setDone(completed.size()));
    }
}
