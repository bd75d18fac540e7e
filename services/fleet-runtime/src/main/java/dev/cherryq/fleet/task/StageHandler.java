package dev.cherryq.fleet.task;

import com.google.protobuf.Message;

/**
 * One stage's work on one message type. {@link #handle} runs on the process's compute thread, writes its outputs
 * to the object store under deterministic keys, and returns the messages to publish; the consumer publishes them
 * and only then commits. Handling the same message twice must change nothing.
 */
public interface StageHandler<T extends Message> {

    /** The stage, input topic, parser and job id of this handler's messages (the job id is validated first). */
    StageBinding<T> binding();

    TaskOutcome handle(T message) throws Exception;

    /**
     * One-time work before the consumer joins its group (so before the process reports ready), on the handler's
     * executor: loading the engine and compiling the hot path, so the first task of a job does not pay for them.
     * None by default. A failure is logged and the consumer starts anyway.
     */
    default void warmUp() throws Exception {}

    /**
     * True (the default) when the work uses the model engine and must run on the process's single compute thread;
     * false for bookkeeping (planning, fan-in, status) that may run beside a long training step.
     */
    default boolean usesCompute() {
        return true;
    }

    /**
     * True when a record this handler fails for good is also kept on the dead-letter topic with its reason (the
     * planner's request events, which a producer may want to inspect); by default only records that exhausted their
     * retries or could not be parsed are.
     */
    default boolean deadLettersFailures() {
        return false;
    }

    /**
     * True (the default) when each handled record is a job's task, reported by a task event on the job-events topic
     * (who ran it, how long, the process's memory: the job's per-worker rows); false for a handler that consumes job
     * events itself, which would otherwise answer each event with another.
     */
    default boolean reportsTasks() {
        return true;
    }
}
