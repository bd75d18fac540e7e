package dev.cherryq.fleet.task;

import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.metrics.ProcessMemory;
import dev.cherryq.proto.v1.ErrorRecord;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobResult;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.StageProgress;
import dev.cherryq.proto.v1.TaskRecord;
import dev.cherryq.proto.v1.TaskTiming;
import java.util.List;

/** Builders for the events stages append to the job-events topic. */
public final class JobEvents {

    private JobEvents() {}

    /** A shard or segment of {@code stage} finished: progress done/total, the shard in {@code completed}. */
    public static Outgoing progress(String jobId, Stage stage, JobState state, int shard, int total, String detail) {
        return event(JobEvent.newBuilder().setJobId(jobId).setStage(stage).setState(state)
                .setProgress(StageProgress.newBuilder().setStage(stage).setTotal(total).setDetail(detail)
                        .addCompleted(shard)));
    }

    /** The same progress event, with where and when the task ran. */
    public static Outgoing progress(String jobId, Stage stage, JobState state, int shard, int total, String detail,
            TaskTiming timing) {
        return event(JobEvent.newBuilder().setJobId(jobId).setStage(stage).setState(state)
                .setProgress(StageProgress.newBuilder().setStage(stage).setTotal(total).setDetail(detail)
                        .addCompleted(shard))
                .setTiming(timing));
    }

    /**
     * A task of {@code stage} finished on this worker (any stage, every task): the record it handled, its seconds, the
     * CPU time of the thread that ran it (-1: unknown) and this process's resident memory now and at its peak. It moves the job nowhere; the status counts it per worker.
     */
    public static Outgoing task(String jobId, Stage stage, String recordId, double seconds, long cpuNanos,
            boolean deduplicated) {
        return event(JobEvent.newBuilder().setJobId(jobId).setStage(stage).setTask(TaskRecord.newBuilder()
                .setWorker(TaskTimings.WORKER).setTask(recordId).setSeconds(seconds)
                .setCpuMs(cpuNanos < 0 ? -1 : cpuNanos / 1_000_000)
                .setRssMib(ProcessMemory.residentMib()).setPeakRssMib(ProcessMemory.peakMib())
                .setDeduplicated(deduplicated)));
    }

    /** The job moves to {@code state} (a stage starts) with {@code total} units of work ahead. */
    public static Outgoing state(String jobId, Stage stage, JobState state, Stage nextStage, int nextTotal,
            String detail) {
        return event(JobEvent.newBuilder().setJobId(jobId).setStage(stage).setState(state)
                .setProgress(StageProgress.newBuilder().setStage(nextStage).setTotal(nextTotal).setDetail(detail)));
    }

    public static Outgoing completed(String jobId, Stage stage, JobResult result) {
        return event(JobEvent.newBuilder().setJobId(jobId).setStage(stage).setState(JobState.JOB_STATE_COMPLETED)
                .setResult(result));
    }

    public static Outgoing failed(String jobId, ErrorRecord error) {
        return event(JobEvent.newBuilder().setJobId(jobId).setStage(error.getStage()).setState(JobState.JOB_STATE_FAILED)
                .setError(error));
    }

    /**
     * The two messages that submit a job, whichever door it came in by (the gateway, {@code cherryq publish}): its
     * QUEUED event, carrying the request, and the request itself on the requests topic; both keyed by the job id.
     */
    public static List<Outgoing> submission(QuantizationRequest request) {
        return List.of(event(JobEvent.newBuilder().setJobId(request.getJobId()).setStage(Stage.STAGE_GATEWAY)
                .setState(JobState.JOB_STATE_QUEUED).setRequest(request)),
                Outgoing.byKey(Topics.REQUESTS, request.getJobId(), request));
    }

    private static Outgoing event(JobEvent.Builder event) {
        event.setAtUnixMs(System.currentTimeMillis());
        return Outgoing.byKey(Topics.JOB_EVENTS, event.getJobId(), event.build());
    }
}
