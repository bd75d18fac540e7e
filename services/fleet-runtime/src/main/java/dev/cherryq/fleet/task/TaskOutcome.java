package dev.cherryq.fleet.task;

import java.util.List;

/**
 * What a handled task produced: messages to publish (after the task's objects are durable), the tokens its compute
 * processed, and whether it was a duplicate whose output already existed.
 */
public record TaskOutcome(List<Outgoing> outgoing, long tokens, boolean deduplicated) {

    public static TaskOutcome of(List<Outgoing> outgoing, long tokens) {
        return new TaskOutcome(List.copyOf(outgoing), tokens, false);
    }

    public static TaskOutcome duplicate(List<Outgoing> outgoing) {
        return new TaskOutcome(List.copyOf(outgoing), 0, true);
    }
}
