package dev.cherryq.gateway;

import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.StageProgress;
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
        status.setUpdatedUnixMs(Math.max(status.getUpdatedUnixMs(), event.getAtUnixMs()));
        return status.build();
    }

    public static boolean isFinal(JobState state) {
        return state == JobState.JOB_STATE_COMPLETED || state == JobState.JOB_STATE_FAILED;
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
