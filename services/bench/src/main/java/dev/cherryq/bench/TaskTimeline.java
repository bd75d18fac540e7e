package dev.cherryq.bench;

import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.TaskTiming;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where one job's scoring and selection time went, from the per-task timestamps its job events carry
 * ({@link TaskTiming}: worker, start, inputs read, outputs stored) and the state events (SCORING, SELECTING,
 * TRAINING): per task the wait before it started, reading its inputs, compute, and the hand-off to its event; per
 * stage the span, each worker's busy time, and the bytes of Fisher partials each selection task and worker read.
 * Times are wall-clock milliseconds of the processes of one machine.
 */
record TaskTimeline(long scoringAt, long selectingAt, long trainingAt, List<Task> scoring, List<Task> selection,
        long partialBytes) {

    /** One task as its progress event reports it. */
    record Task(int index, String worker, long started, long computeStarted, long finished, long eventAt,
            long bytesRead, long cpuMs) {}

    /** The timeline of the events of one job; {@code partialBytes} is the total of every stored Fisher partial. */
    static TaskTimeline of(List<JobEvent> events, long partialBytes) {
        long scoringAt = 0;
        long selectingAt = 0;
        long trainingAt = 0;
        List<Task> scoring = new ArrayList<>();
        List<Task> selection = new ArrayList<>();
        for (JobEvent event : events) {
            if (event.getState() == JobState.JOB_STATE_SCORING && !event.hasTiming() && scoringAt == 0) {
                scoringAt = event.getAtUnixMs();
            } else if (event.getState() == JobState.JOB_STATE_SELECTING && !event.hasTiming() && selectingAt == 0) {
                selectingAt = event.getAtUnixMs();
            } else if (event.getState() == JobState.JOB_STATE_TRAINING && trainingAt == 0) {
                trainingAt = event.getAtUnixMs();
            }
            if (event.hasTiming() && event.getProgress().getCompletedCount() == 1) {
                TaskTiming t = event.getTiming();
                Task task = new Task(event.getProgress().getCompleted(0), t.getWorker(), t.getStartedUnixMs(),
                        t.getComputeStartedUnixMs(), t.getFinishedUnixMs(), event.getAtUnixMs(), t.getBytesRead(),
                        t.getCpuMs());
                (event.getStage() == Stage.STAGE_SCORER ? scoring : selection).add(task);
            }
        }
        scoring.sort(Comparator.comparingLong(Task::started));
        selection.sort(Comparator.comparingLong(Task::started));
        return new TaskTimeline(scoringAt, selectingAt, trainingAt, scoring, selection, partialBytes);
    }

    /** Milliseconds from the SCORING event to the last scoring task's stored output. */
    long scoringSpanMs() {
        return scoring.stream().mapToLong(Task::finished).max().orElse(scoringAt) - scoringAt;
    }

    /** The bytes of partials the busiest selection task read. */
    long busiestTaskBytes() {
        return selection.stream().mapToLong(Task::bytesRead).max().orElse(0);
    }

    /** The bytes of partials the busiest selector process read, over all its tasks. */
    long busiestWorkerBytes() {
        Map<String, Long> byWorker = new LinkedHashMap<>();
        selection.forEach(task -> byWorker.merge(task.worker(), task.bytesRead(), Long::sum));
        return byWorker.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** Markdown: the per-task table and the stage summary. */
    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("| task | worker | started (ms after its state event: SCORING, SELECTING) | waited for it ms | inputs read ms | compute ms | "
                + "output to event ms | CPU s / wall s |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        appendRows(md, "score", scoring, scoringAt);
        appendRows(md, "select", selection, selectingAt);
        md.append('\n');
        Map<String, long[]> busy = new LinkedHashMap<>(); // worker -> busy ms, tasks, CPU ms
        scoring.forEach(task -> {
            long[] sum = busy.computeIfAbsent(task.worker(), key -> new long[3]);
            sum[0] += task.finished() - task.started();
            sum[1]++;
            sum[2] += task.cpuMs();
        });
        long lastScore = scoringAt + scoringSpanMs();
        md.append(String.format(Locale.ROOT, "Scoring: %d tasks, %.2f s from the SCORING event to the last stored "
                + "partial; busy per scorer process (tasks, s, CPU s): ", scoring.size(), scoringSpanMs() / 1e3));
        busy.forEach((worker, sum) -> md.append(String.format(Locale.ROOT, "%s %d, %.2f, %.2f; ", worker, sum[1],
                sum[0] / 1e3, sum[2] / 1e3)));
        md.append(String.format(Locale.ROOT, "the score fan-in's hand-off (last partial stored to SELECTING) %.2f s; "
                + "selection (SELECTING to TRAINING, %d layer tasks) %.2f s.%n%n", (selectingAt - lastScore) / 1e3,
                selection.size(), (trainingAt - selectingAt) / 1e3));
        md.append(String.format(Locale.ROOT, "Partial bytes: %.2f MiB stored in all; the busiest selection task read "
                + "%.2f MiB (%.3f of them, target <= 1/%d = %.3f: %s), the busiest selector process %.2f MiB (%.3f).%n%n",
                partialBytes / 1048576.0, busiestTaskBytes() / 1048576.0, (double) busiestTaskBytes() / partialBytes,
                selection.size(), 1.0 / selection.size(), busiestTaskBytes() * (long) selection.size() <= partialBytes
                        ? "met" : "missed", busiestWorkerBytes() / 1048576.0,
                (double) busiestWorkerBytes() / partialBytes));
        return md.toString();
    }

    private static void appendRows(StringBuilder md, String kind, List<Task> tasks, long origin) {
        Map<String, Long> lastFinish = new LinkedHashMap<>();
        for (Task task : tasks) {
            long previous = Math.max(origin, lastFinish.getOrDefault(task.worker(), origin));
            md.append(String.format(Locale.ROOT, "| %s %d | %s | %d | %d | %d | %d | %d | %.2f |%n", kind,
                    task.index(), task.worker(), task.started() - origin, task.started() - previous,
                    task.computeStarted() - task.started(), task.finished() - task.computeStarted(),
                    task.eventAt() - task.finished(), task.cpuMs() / (double) Math.max(1, task.finished()
                            - task.started())));
            lastFinish.put(task.worker(), task.finished());
        }
    }
}
