package dev.cherryq.fleet.task;

import dev.cherryq.proto.v1.TaskTiming;
import java.lang.management.ManagementFactory;

/**
 * Stamps a task's {@link TaskTiming}: which process ran it (pid/host) and when it started, finished reading its
 * inputs and finished its outputs, in wall-clock milliseconds comparable across the processes of one machine, and
 * the CPU time its thread used. Job
 * events carry the stamps, so a benchmark can split a stage's time into compute, hand-off and merge.
 */
public final class TaskTimings {

    /** pid/host of this process (the JVM names itself pid@host). */
    public static final String WORKER = ManagementFactory.getRuntimeMXBean().getName().replace('@', '/');

    private static final java.lang.management.ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final TaskTiming.Builder timing = TaskTiming.newBuilder().setWorker(WORKER);
    private final long cpuStartedNanos = threadCpuNanos();

    private TaskTimings() {
        timing.setStartedUnixMs(System.currentTimeMillis());
    }

    /** This thread's CPU time, or -1 where the JVM cannot measure it. */
    static long threadCpuNanos() {
        return THREADS.isCurrentThreadCpuTimeSupported() ? THREADS.getCurrentThreadCpuTime() : -1;
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

    /**
     * Its outputs are stored: the stamps so far, finished now, with the thread's CPU time since the start (call it on
     * the thread that started the task). CPU time over wall time is the share of a core the task got: below 1 when
     * other processes compete for the cores.
     */
    public TaskTiming finish() {
        long cpu = threadCpuNanos();
        if (cpu >= 0 && cpuStartedNanos >= 0) {
            timing.setCpuMs((cpu - cpuStartedNanos) / 1_000_000);
        }
        return timing.setFinishedUnixMs(System.currentTimeMillis()).build();
    }
}
