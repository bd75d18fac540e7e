package dev.cherryq.fleet.task;

import java.util.List;

/**
 * What a handled task produced: messages to publish (after the task's objects are durable), the tokens its compute
 * processed, whether it was a duplicate whose output already existed, and what to do once the messages are published
 * (before the record is committed): a once-per-job step writes its completion marker there.
 */
public record TaskOutcome(List<Outgoing> outgoing, long tokens, boolean deduplicated, AfterPublish afterPublish) {

    /** Runs after the outcome's messages are on Kafka and before its record is committed. */
    @FunctionalInterface
    public interface AfterPublish {
        AfterPublish NOTHING = () -> { };

        void run() throws Exception;
    }

    public static TaskOutcome of(List<Outgoing> outgoing, long tokens) {
        return new TaskOutcome(List.copyOf(outgoing), tokens, false, AfterPublish.NOTHING);
    }

    public static TaskOutcome duplicate(List<Outgoing> outgoing) {
        return new TaskOutcome(List.copyOf(outgoing), 0, true, AfterPublish.NOTHING);
    }

    /** This outcome, running {@code action} once its messages are published. */
    public TaskOutcome thenAfterPublish(AfterPublish action) {
        return new TaskOutcome(outgoing, tokens, deduplicated, action);
    }
}
