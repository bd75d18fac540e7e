package dev.cherryq.fleet.task;

import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.JMException;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the C heap's freed memory back to the operating system when a worker process goes idle.
 *
 * <p>Why: libtorch allocates its tensors with glibc's {@code malloc}, and glibc keeps freed memory in its arenas for
 * reuse instead of returning it; a worker that has finished its tasks stays at its high-water mark, which drifts up
 * job after job as the arenas fragment. Measured on a 30-minute soak (docs/BENCHMARKS.md, Findings 5): the JVM's
 * diagnostic command {@code System.trim_native_heap} ({@code malloc_trim}) took an idle evaluator from 666 to
 * 301 MiB and a trainer from 871 to 327 MiB.
 *
 * <p>How: stage consumers mark each task's start and end; when a consumer's poll comes back empty, no task of this
 * process has run for {@link #IDLE_NANOS}, and a task has ended since the last trim, it runs that diagnostic command
 * in-process through its platform MBean (no native code of ours), at most once a {@link #MIN_INTERVAL_NANOS}. Never
 * between the back-to-back tasks of a busy worker: whatever a trim returns, the next task faults back in, about
 * 0.7 ms per MiB ({@code scripts/TrimRefaultCost.java}), and a soak that trimmed at every empty poll (between a job's
 * training segments, between evaluation shards) ran its trainer tasks 15% and its evaluator tasks 23% longer than
 * the soak before it without trimming (one comparison between two soaks, a loose bound). Where the JVM or the C
 * library has no such command (not glibc, not HotSpot) the first attempt logs it once and trimming stops.
 */
public final class NativeHeap {

    private static final Logger LOG = LoggerFactory.getLogger(NativeHeap.class);
    /** How long a process must have run no task before it trims: longer than the gaps between a job's tasks. */
    static final long IDLE_NANOS = 1_000_000_000L;
    /** At most one trim a second, however often consumers go idle (bookkeeping stages do many times a second). */
    static final long MIN_INTERVAL_NANOS = 1_000_000_000L;
    private static final String DIAGNOSTIC_COMMAND = "com.sun.management:type=DiagnosticCommand";
    private static final String TRIM_OPERATION = "systemTrimNativeHeap";

    private static final AtomicInteger TASKS_RUNNING = new AtomicInteger();
    private static final AtomicBoolean TASK_ENDED_SINCE_TRIM = new AtomicBoolean();
    private static final AtomicLong LAST_TRIM_NANOS = new AtomicLong(System.nanoTime() - MIN_INTERVAL_NANOS);
    private static final AtomicLong LAST_TASK_ENDED_NANOS = new AtomicLong(System.nanoTime());
    private static final AtomicLong TRIMS = new AtomicLong();
    private static volatile boolean supported = true;

    private NativeHeap() {}

    /** A task of this process starts: no trim until it ends. */
    public static void taskStarted() {
        TASKS_RUNNING.incrementAndGet();
    }

    /** A task of this process ended (however): its freed memory may be trimmed once the process is idle. */
    public static void taskEnded() {
        LAST_TASK_ENDED_NANOS.set(System.nanoTime());
        TASKS_RUNNING.decrementAndGet();
        TASK_ENDED_SINCE_TRIM.set(true);
    }

    /**
     * Trims when the process is idle (no task running, none ended within {@link #IDLE_NANOS}), a task ended since the
     * last trim, and the last trim is at least {@link #MIN_INTERVAL_NANOS} old; returns whether it trimmed. Called by
     * a consumer whose poll was empty.
     */
    public static boolean trimIfIdle() {
        long now = System.nanoTime();
        long last = LAST_TRIM_NANOS.get();
        if (!supported || TASKS_RUNNING.get() > 0 || !TASK_ENDED_SINCE_TRIM.get()
                || now - LAST_TASK_ENDED_NANOS.get() < IDLE_NANOS || now - last < MIN_INTERVAL_NANOS
                || !LAST_TRIM_NANOS.compareAndSet(last, now)) {
            return false;
        }
        TASK_ENDED_SINCE_TRIM.set(false);
        String report = trim();
        if (report == null) {
            return false;
        }
        TRIMS.incrementAndGet();
        LOG.debug("idle: {}", report);
        return true;
    }

    /** Trims the C heap now; returns the JVM's report ("Trim native heap: RSS+Swap: 666M->301M (-365M)"), or null. */
    public static String trim() {
        if (!supported) {
            return null;
        }
        try {
            Object report = ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName(DIAGNOSTIC_COMMAND),
                    TRIM_OPERATION, new Object[] {null}, new String[] {String[].class.getName()});
            String text = String.valueOf(report).trim();
            if (text.startsWith("Not available")) { // HotSpot's answer where the C library cannot trim (not glibc)
                throw new UnsupportedOperationException(text);
            }
            return text;
        } catch (JMException | RuntimeException e) {
            supported = false;
            LOG.info("the C heap is not trimmed when idle: this JVM has no {} operation ({})", TRIM_OPERATION,
                    e.toString());
            return null;
        }
    }

    /** Trims done by {@link #trimIfIdle} in this process. */
    public static long trims() {
        return TRIMS.get();
    }
}
