package dev.cherryq.fleet.task;

import dev.cherryq.proto.v1.TaskTiming;
import java.lang.management.ManagementFactory;

/**
 * Stamps a task's {@link TaskTiming}: which process ran it (host/pid) and when it started, finished reading its
 * inputs and finished its outputs, in wall-clock milliseconds comparable across the processes of one machine. Job
 * events carry the stamps, so a benchmark can split a stage's time into compute, hand-off and merge.
 */
public final class TaskTimings {

    /** host/pid of this process. */
    public static final String WORKER = ManagementFactory.getRuntimeMXBean().getName().replace('@', '/');

    private final TaskTiming.Builder timing = TaskTiming.newBuilder().setWorker(WORKER);

    private TaskTimings() {
        timing.setStartedUnixMs(System.currentTimeMillis());
    }

    /** A task starting now. */
    public static TaskTimings start() {
        return new TaskTimings();
    }

    /** Its inputs are read: compute starts now. */
    public TaskTimings computeStarts() {
        timing.setComputeStartedUnixMs(System.currentTimeMillis());
        return this;
    }

    /** {@code bytes} more of Fisher partials read from the store. */
    public TaskTimings read(long bytes) {
        timing.setBytesRead(timing.getBytesRead() + bytes);
        return this;
    }

    /** Its outputs are stored: the stamps so far, finished now. */
    public TaskTiming finish() {
        return timing.setFinishedUnixMs(System.currentTimeMillis()).build();
    }
}
